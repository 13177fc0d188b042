import { performance } from 'node:perf_hooks'
import { errors as undiciErrors } from 'undici'
import { Breaker } from '../../core/breaker.js'
import type { Clock } from '../../core/clock.js'
import { IotlessError, isIotlessError, type ErrorCode } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Metrics } from '../../core/metrics.js'
import type { InstanceSpec } from '../../functions/sdk/instanceMessages.js'
import { Instance } from './instance.js'
import { busiestFirst, type DispatchStrategy } from './dispatch/thresholdDispatch.js'

export interface FunctionPoolOptions {
  name: string
  /** Absolute path of the function's module. */
  modulePath: string
  config: Record<string, unknown>
  /** The effect store each instance opens for once() (InstanceSpec.effects). */
  effects?: InstanceSpec['effects']
  /** Environment of each instance process. */
  env: NodeJS.ProcessEnv
  concurrency: number
  maxScale: number
  keepAliveMs: number
  initTimeoutMs: number
  timeoutMs: number
  /** Requests that may wait for a slot; default 10 x concurrency x maxScale (Knative). See poolQueueDepth.ts. */
  queueDepth?: number | undefined
  clock: Clock
  log: Logger
  metrics?: Metrics | undefined
  /** Which instance a request goes to (adapters/runtime/dispatch); default busiest-first. */
  dispatch?: DispatchStrategy | undefined
}

export interface EncodedEvent {
  headers: Record<string, string>
  body: Buffer
}

export interface InvokeResult {
  reply?: { data: Buffer; contentType: string }
  /** True when this invocation had to wait for an instance to start. */
  coldStart: boolean
  instanceId: number
}

/**
 * Thrown when the instance went away under a request. `alone`: the instance died while this was the only
 * request on it, so this request is what crashed it (a poison message): it is not sent again. Otherwise
 * it may be an innocent bystander of another request's crash, and is retried once elsewhere.
 */
class InstanceLostError extends Error {
  constructor (message: string, readonly alone = false) { super(message) }
}

/**
 * The instances of one function. A request takes a slot from the breaker, whose capacity is
 * (ready instances x concurrency) and whose queue holds 10 x concurrency x maxScale requests, as Knative sizes
 * it per pod (pkg/queue/breaker.go), or what the routes can send when that is more (poolQueueDepth.ts);
 * past that it is refused with BREAKER_QUEUE_FULL.
 * When requests wait and fewer than maxScale instances exist, more start (spawn + init = a cold start).
 * An instance idle for keepAliveMs is reaped; the clock is injected so tests drive it without sleeping.
 */
export class FunctionPool {
  readonly name: string
  readonly #opts: FunctionPoolOptions
  readonly #breaker: Breaker
  readonly #ready: Instance[] = []
  readonly #all = new Set<Instance>()
  /** Requests an instance was serving when it was found dead (the first time only). */
  readonly #loadAtCrash = new WeakMap<Instance, number>()
  #starting = 0
  #closed = false
  #spawned = 0
  #warmFloor = 0

  constructor (opts: FunctionPoolOptions) {
    this.name = opts.name
    this.#opts = opts
    this.#breaker = new Breaker({ capacity: 0, maxCapacity: opts.concurrency * opts.maxScale, queueDepth: opts.queueDepth ?? 10 * opts.concurrency * opts.maxScale })
  }

  /** Instances ready to serve, busy or idle. */
  get warmInstances (): number { return this.#ready.length }
  get startingInstances (): number { return this.#starting }
  /** Instances ever started: every one is a cold start. */
  get spawnCount (): number { return this.#spawned }
  get inFlight (): number { return this.#breaker.inFlight }
  get queued (): number { return this.#breaker.waiting }
  /** Process ids of live instances (for tests and diagnostics). */
  get pids (): number[] { return [...this.#all].map((i) => i.child.pid ?? -1) }

  async invoke (event: EncodedEvent, signal?: AbortSignal): Promise<InvokeResult> {
    const started = performance.now()
    const fnLabel = { function: this.name }
    try {
      let result: InvokeResult
      try {
        result = await this.#invokeOnce(event, signal)
      } catch (err) {
        if (!(err instanceof InstanceLostError)) throw err
        if (err.alone) {
          // Nothing else ran on that instance: this message crashed it. Another try costs another process
          // and would crash it too; report it now (the adapter dead-letters it, and does not retry).
          throw new IotlessError('FUNCTION_CRASHED', `${this.name}: the instance exited while handling this message alone (${err.message}): not retried`, { details: { poison: true } })
        }
        // The instance crashed under several requests: retry once on another one, then report it.
        this.#opts.log.warn({ function: this.name, err: err.message }, 'instance lost during invocation; retrying once')
        try {
          result = await this.#invokeOnce(event, signal)
        } catch (err2) {
          if (err2 instanceof InstanceLostError) {
            throw new IotlessError('FUNCTION_CRASHED', `${this.name}: the instance exited during the invocation, twice (${err2.message})`)
          }
          throw err2
        }
      }
      this.#opts.metrics?.invocations.inc({ ...fnLabel, outcome: 'ok' })
      return result
    } catch (err) {
      this.#opts.metrics?.invocations.inc({ ...fnLabel, outcome: outcomeOf(err) })
      throw err
    } finally {
      this.#opts.metrics?.invocationDuration.observe(fnLabel, (performance.now() - started) / 1000)
    }
  }

  async #invokeOnce (event: EncodedEvent, signal?: AbortSignal): Promise<InvokeResult> {
    if (this.#closed) throw new IotlessError('POOL_CLOSED', `${this.name}: the pool is shutting down`)
    const coldStart = this.#breaker.inFlight >= this.#breaker.capacity
    const slot = this.#breaker.acquire(signal)
    this.#scale()
    await slot
    const inst = this.#pick()
    if (inst === undefined) {
      // Unreachable while the capacity invariant holds; fail loudly rather than lose the message.
      this.#breaker.release()
      throw new InstanceLostError('no ready instance held a free slot')
    }
    if (inst.idleTimer !== undefined) { this.#opts.clock.clearTimeout(inst.idleTimer); inst.idleTimer = undefined }
    inst.inFlight++
    inst.lastUsedAt = this.#opts.clock.now()
    try {
      const reply = await this.#send(inst, event, signal)
      return reply === undefined ? { coldStart, instanceId: inst.id } : { reply, coldStart, instanceId: inst.id }
    } finally {
      inst.inFlight--
      inst.lastUsedAt = this.#opts.clock.now()
      this.#breaker.release()
      if (inst.inFlight === 0 && inst.state === 'ready') this.#armKeepAlive(inst)
    }
  }

  async #send (inst: Instance, event: EncodedEvent, signal?: AbortSignal): Promise<{ data: Buffer; contentType: string } | undefined> {
    const http = inst.http
    if (http === undefined) throw new InstanceLostError(`instance ${inst.id} is no longer serving`)
    let res
    try {
      res = await http.request({
        path: '/',
        method: 'POST',
        headers: event.headers,
        body: event.body,
        headersTimeout: this.#opts.timeoutMs,
        bodyTimeout: this.#opts.timeoutMs,
        signal
      })
    } catch (err) {
      if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
        // A handler past its time is stuck or runaway: stop the instance, as OpenWhisk does after a timeout.
        void this.#retire(inst, 'timeout')
        throw new IotlessError('FUNCTION_TIMEOUT', `${this.name}: no answer within ${this.#opts.timeoutMs} ms`)
      }
      if (signal?.aborted === true) throw err
      this.#drop(inst, true)
      throw this.#lost(inst, err)
    }
    let body: Buffer
    try {
      body = Buffer.from(await res.body.arrayBuffer())
    } catch (err) {
      this.#drop(inst, true)
      throw this.#lost(inst, err)
    }
    if (res.statusCode === 204) return undefined
    if (res.statusCode === 200) {
      const ct = res.headers['content-type']
      return { data: body, contentType: typeof ct === 'string' ? ct : 'application/octet-stream' }
    }
    let code: ErrorCode = 'FUNCTION_HANDLER_ERROR'
    let message = body.toString('utf8')
    try {
      const parsed = JSON.parse(message) as { code?: string; error?: string }
      if (parsed.code === 'FUNCTION_BAD_REPLY') code = 'FUNCTION_BAD_REPLY'
      if (parsed.code === 'FUNCTION_BAD_INPUT') code = 'FUNCTION_BAD_INPUT'
      if (typeof parsed.error === 'string') message = parsed.error
    } catch { /* not JSON: keep the text */ }
    throw new IotlessError(code, `${this.name}: ${message} (HTTP ${res.statusCode})`, { details: { status: res.statusCode } })
  }

  #lost (inst: Instance, err: unknown): InstanceLostError {
    return new InstanceLostError((err as Error).message, this.#loadAtCrash.get(inst) === 1)
  }

  /** An instance with a free slot, as the dispatch strategy says (default busiest-first: the others go idle and can be reaped). */
  #pick (): Instance | undefined {
    return (this.#opts.dispatch ?? busiestFirst).pick(this.#ready, this.#opts.concurrency)
  }

  /** Starts instances for the requests in flight and waiting, less `leaving` (requests on an instance being dropped). */
  #scale (leaving = 0): void {
    if (this.#closed) return
    const demand = this.#breaker.inFlight - leaving + this.#breaker.waiting
    const wanted = Math.min(this.#opts.maxScale, Math.ceil(demand / this.#opts.concurrency))
    for (let have = this.#ready.length + this.#starting; have < wanted; have++) this.#spawn()
  }

  /** Starts instances until `count` are ready or starting (pre-warming); never beyond maxScale. */
  prewarm (count: number): void {
    const target = Math.min(this.#opts.maxScale, count)
    for (let have = this.#ready.length + this.#starting; have < target && !this.#closed; have++) this.#spawn()
  }

  /** Instances the keep-alive reaper leaves standing (set by prefetch); 0 unless a prefetcher set it. */
  get warmFloor (): number { return this.#warmFloor }

  /**
   * Prefetch: hold at least `count` instances (capped at maxScale). Missing ones start now; while the floor
   * holds, an idle instance whose keep-alive ends is kept if stopping it would go below the floor. Lowering the
   * floor re-arms the keep-alive of the idle instances it had kept.
   */
  setWarmFloor (count: number): void {
    const floor = Math.max(0, Math.min(this.#opts.maxScale, Math.floor(count)))
    const lowered = floor < this.#warmFloor
    this.#warmFloor = floor
    if (floor > 0) this.prewarm(floor)
    if (lowered) {
      for (const inst of this.#ready) if (inst.inFlight === 0 && inst.idleTimer === undefined) this.#armKeepAlive(inst)
    }
  }

  /** Prefetch release: stops idle instances beyond the warm floor now, without waiting for keep-alive. Returns how many. */
  releaseIdle (): number {
    let excess = this.#ready.length - this.#warmFloor
    let stopped = 0
    for (const inst of [...this.#ready]) {
      if (excess <= 0) break
      if (inst.inFlight !== 0 || inst.state !== 'ready') continue
      void this.#retire(inst, 'prefetch release')
      excess--
      stopped++
    }
    return stopped
  }

  #spawn (): void {
    const { log, metrics, clock } = this.#opts
    this.#starting++
    this.#spawned++
    metrics?.coldStarts.inc({ function: this.name })
    const t0 = performance.now()
    const inst = new Instance({ name: this.name, modulePath: this.#opts.modulePath, config: this.#opts.config, effects: this.#opts.effects }, this.#opts.env)
    this.#all.add(inst)
    log.debug({ function: this.name, instance: inst.id, pid: inst.child.pid }, 'cold start')
    let timedOut = false
    const timer = clock.setTimeout(() => {
      timedOut = true
      inst.child.kill('SIGKILL')
    }, this.#opts.initTimeoutMs)
    inst.whenReady().then((port) => {
      clock.clearTimeout(timer)
      this.#starting--
      if (this.#closed) { void inst.stop(); return }
      inst.markReady(port, this.#opts.concurrency)
      inst.lastUsedAt = clock.now()
      this.#ready.push(inst)
      metrics?.coldStartDuration.observe({ function: this.name }, (performance.now() - t0) / 1000)
      this.#updateCapacity()
      if (inst.inFlight === 0) this.#armKeepAlive(inst)
    }, (err: Error & { code?: string }) => {
      clock.clearTimeout(timer)
      this.#starting--
      const error = timedOut
        ? new IotlessError('FUNCTION_INIT_TIMEOUT', `${this.name}: instance not ready within ${this.#opts.initTimeoutMs} ms`)
        : new IotlessError(err.code === 'FUNCTION_NOT_FOUND' ? 'FUNCTION_NOT_FOUND' : 'FUNCTION_INIT_FAILED', err.message)
      log.error({ function: this.name, code: error.code, err: error.message }, 'instance failed to start')
      // With nothing else able to serve them, the waiting requests would wait forever: fail them now.
      if (this.#ready.length === 0 && this.#starting === 0) this.#breaker.rejectWaiting(error)
    })
    void inst.exited.then(({ code, signal }) => {
      this.#all.delete(inst)
      if (this.#ready.includes(inst)) {
        log.warn({ function: this.name, instance: inst.id, code, signal }, 'instance exited unexpectedly')
        this.#drop(inst, true)
      }
    })
  }

  /**
   * Takes an instance out of service at once, so no retry is sent to it while its exit is still on the way.
   * A crash is counted once however it is noticed (a failed request or the exit event).
   */
  #drop (inst: Instance, crashed: boolean): void {
    if (crashed && !this.#loadAtCrash.has(inst)) this.#loadAtCrash.set(inst, inst.inFlight)
    const i = this.#ready.indexOf(inst)
    if (i < 0) return
    this.#ready.splice(i, 1)
    if (inst.idleTimer !== undefined) { this.#opts.clock.clearTimeout(inst.idleTimer); inst.idleTimer = undefined }
    this.#updateCapacity()
    if (crashed && !this.#closed) this.#opts.metrics?.instanceCrashes.inc({ function: this.name })
    void inst.stop(0)
    // Requests still queued need a replacement; those on this instance are failing and will retry on their own.
    this.#scale(inst.inFlight)
  }

  #armKeepAlive (inst: Instance): void {
    const { clock } = this.#opts
    if (inst.idleTimer !== undefined) clock.clearTimeout(inst.idleTimer)
    inst.idleTimer = clock.setTimeout(() => {
      inst.idleTimer = undefined
      // Under the prefetch floor the instance stays, without a timer; setWarmFloor re-arms it when the floor drops.
      if (this.#ready.length <= this.#warmFloor) return
      if (inst.inFlight === 0 && inst.state === 'ready') void this.#retire(inst, 'keep-alive expired')
    }, this.#opts.keepAliveMs)
  }

  async #retire (inst: Instance, reason: string): Promise<void> {
    const i = this.#ready.indexOf(inst)
    if (i >= 0) {
      this.#ready.splice(i, 1)
      this.#updateCapacity()
    }
    if (inst.idleTimer !== undefined) { this.#opts.clock.clearTimeout(inst.idleTimer); inst.idleTimer = undefined }
    this.#opts.log.debug({ function: this.name, instance: inst.id, reason }, 'stopping instance')
    await inst.stop()
    // Requests that queued while this instance was going away need a replacement.
    this.#scale()
  }

  #updateCapacity (): void {
    this.#breaker.setCapacity(this.#ready.length * this.#opts.concurrency)
    this.#opts.metrics?.warmInstances.set({ function: this.name }, this.#ready.length)
  }

  /** Refuses new work, fails what is queued, stops every instance and waits for them to exit. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#breaker.rejectWaiting(new IotlessError('POOL_CLOSED', `${this.name}: the pool is shutting down`))
    const all = [...this.#all]
    for (const inst of all) {
      if (inst.idleTimer !== undefined) this.#opts.clock.clearTimeout(inst.idleTimer)
    }
    this.#ready.length = 0
    this.#opts.metrics?.warmInstances.set({ function: this.name }, 0)
    await Promise.all(all.map((inst) => inst.stop()))
  }
}

function outcomeOf (err: unknown): string {
  if (!isIotlessError(err)) return 'error'
  switch (err.code) {
    case 'FUNCTION_CRASHED': return 'crashed'
    case 'FUNCTION_TIMEOUT': return 'timeout'
    case 'BREAKER_QUEUE_FULL':
    case 'POOL_CLOSED': return 'rejected'
    default: return 'error'
  }
}
