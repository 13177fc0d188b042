import { performance } from 'node:perf_hooks'
import { errors as undiciErrors } from 'undici'
import type { Clock } from '../../core/clock.js'
import { IotlessError, isIotlessError, type ErrorCode } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Metrics } from '../../core/metrics.js'
import type { InstanceSpec } from '../../functions/sdk/instanceMessages.js'
import { Instance, type InstanceLimits } from './instance.js'
import type { BoxAllocator } from './capacity/boxAllocator.js'
import type { CpuQuota } from './capacity/cpuQuota.js'
import { FunctionPlanner } from './capacity/functionPlanner.js'
import type { GuaranteeGate } from './capacity/guaranteeGate.js'
import { GuaranteedBreaker } from './capacity/guaranteedBreaker.js'
import type { Slo } from './capacity/sloScaler.js'
import { ReactiveScaler, type PoolView } from './capacity/scaler.js'
import { busiestFirst, type DispatchStrategy } from './dispatch/thresholdDispatch.js'
import { envKey, type SpareInstances } from './spareInstances.js'
import { StartCost } from './startCost.js'
import type { StartGate } from './capacity/startGate.js'
import { WARMUP_EVENT_TYPE, WARMUP_HEADER } from '../../functions/sdk/warmup.js'

export interface FunctionPoolOptions {
  name: string
  /** Absolute path of the function's module. */
  modulePath: string
  config: Record<string, unknown>
  /** The effect store each instance opens for once() (InstanceSpec.effects). */
  effects?: InstanceSpec['effects']
  /** Handler spans in each instance (InstanceSpec.tracing); absent: none. */
  tracing?: InstanceSpec['tracing']
  /** Environment of each instance process. */
  env: NodeJS.ProcessEnv
  concurrency: number
  maxScale: number
  keepAliveMs: number
  initTimeoutMs: number
  timeoutMs: number
  /** Memory bound of each instance process, in MB (V8 heap + an OS bound, memoryLimit.ts); 0 or absent: none. */
  memoryMb?: number
  /** Where the memory bound is enforced; tests force the RSS watchdog with { guard: { cgroupRoot: null } }. */
  limits?: Omit<InstanceLimits, 'memoryMb'>
  /** Requests that may wait for a slot; default 10 x concurrency x maxScale (Knative). See poolQueueDepth.ts. */
  queueDepth?: number | undefined
  clock: Clock
  log: Logger
  metrics?: Metrics | undefined
  /**
   * How many instances to have (capacity/functionPlanner.ts): its scaler, the box's share, the guarantee's
   * reservation. Default: the reactive scaler, today's behaviour. The request-level simulator runs the same planner.
   */
  planner?: FunctionPlanner | undefined
  /** The box this pool shares with others (capacity/boxAllocator.ts); told of every change of want. */
  box?: BoxAllocator | undefined
  /** Deflation: sets the CPU quota of an instance's process (cgroup v1); absent, reclaim only terminates. */
  cpuQuota?: CpuQuota | undefined
  /** The function's guaranteed rate: counts invocations within it and above it. */
  gate?: GuaranteeGate | undefined
  /** The objective invocations are counted against (iotless_capacity_slo_requests_total). */
  slo?: Slo | undefined
  /** Which instance a request goes to (adapters/runtime/dispatch); default busiest-first. */
  dispatch?: DispatchStrategy | undefined
  /** Booted generic processes an instance may start from (spareInstances.ts), when `env` matches and there is no memoryMb. */
  spares?: SpareInstances | undefined
  /**
   * The box's start gate (capacity/startGate.ts), shared by the pools: a start beyond its limit waits its turn (FIFO)
   * before its process is spawned; it counts as starting meanwhile. Absent: no gate.
   */
  startGate?: StartGate | undefined
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
  /** Time the instance took to answer, ms (the service time the SLO sizer measures). */
  serviceMs?: number
  /** With a guarantee: true when this invocation was within it (admitted), false when above it (best effort). */
  admitted?: boolean
}

/**
 * Thrown when the instance went away under a request. `alone`: the instance died while this was the only
 * request on it, so this request is what crashed it (a poison message): it is not sent again. Otherwise
 * it may be an innocent bystander of another request's crash, and is retried once elsewhere.
 */
class InstanceLostError extends Error {
  constructor (message: string, readonly alone = false) { super(message) }
}

/** The connection to the instance was refused: nothing of the request reached it. */
function neverDelivered (err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === 'ECONNREFUSED'
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
  readonly #breaker: GuaranteedBreaker
  readonly #ready: Instance[] = []
  /** Whether an instance of the function has ever been ready (requests before the first are start-up ones). */
  #everReady = false
  readonly #all = new Set<Instance>()
  /** Requests an instance was serving when it was found dead (the first time only). */
  readonly #loadAtCrash = new WeakMap<Instance, number>()
  #starting = 0
  /** Starts waiting at the box's start gate (no process yet), to give up on close. */
  readonly #gated = new Set<{ cancel: () => boolean }>()
  #closed = false
  #spawned = 0
  #warmFloor = 0
  readonly #planner: FunctionPlanner
  #tickTimer: { id: number } | undefined
  #lastActiveAt = 0
  #cpuShare = 1
  readonly #envKey: string | undefined
  #lastStart: { fromSpare: boolean; startedAt: number; timings: Instance['timings'] } | undefined
  /** How long a start takes now, on the pool's clock: a prefetch release leaves an instance idle at least that long. */
  readonly #startCost = new StartCost()

  constructor (opts: FunctionPoolOptions) {
    this.name = opts.name
    this.#opts = opts
    this.#planner = opts.planner ?? new FunctionPlanner({
      name: opts.name,
      concurrency: opts.concurrency,
      maxScale: opts.maxScale,
      scaler: new ReactiveScaler(opts.concurrency),
      weight: 8,
      reservedInstances: 0,
      minCpuShare: 0.5
    })
    this.#planner.onAllocation = () => { this.#enforce() }
    this.#envKey = opts.spares === undefined || (opts.memoryMb ?? 0) > 0 ? undefined : envKey(opts.env)
    // With a guarantee, invocations within it have their own queue and the reserved instances' slots, ahead of the
    // function's own overflow (capacity/guaranteedBreaker.ts); without one this is core/breaker.ts's FIFO.
    this.#breaker = new GuaranteedBreaker({
      capacity: 0,
      maxCapacity: opts.concurrency * opts.maxScale,
      queueDepth: opts.queueDepth ?? 10 * opts.concurrency * opts.maxScale,
      reservedSlots: opts.gate === undefined ? 0 : this.#planner.reservedInstances * opts.concurrency
    })
    // The box learns what this function wants (its guarantee's reservation) before its first request: otherwise a
    // box overloaded by others would share as if it wanted nothing and stop its reserved instances.
    this.#reportWant()
  }

  /** Instances ready to serve, busy or idle. */
  get warmInstances (): number { return this.#ready.length }
  get startingInstances (): number { return this.#starting }
  /** Instances ever started: every one is a cold start. */
  get spawnCount (): number { return this.#spawned }
  get inFlight (): number { return this.#breaker.inFlight }
  /** Requests it runs at once, all instances together (concurrency x maxScale). */
  get slots (): number { return this.#opts.concurrency * this.#opts.maxScale }
  get queued (): number { return this.#breaker.waiting }
  /** Process ids of live instances (for tests and diagnostics). */
  get pids (): number[] { return [...this.#all].map((i) => i.child.pid ?? -1) }
  get planner (): FunctionPlanner { return this.#planner }
  /** How the last instance to become ready started: from a spare or a fork, and its phases (epoch ms). */
  get lastStart (): { fromSpare: boolean; startedAt: number; timings: Instance['timings'] } | undefined { return this.#lastStart }
  /** The CPU share (1 = full) the instances run at; below 1 while deflated. */
  get cpuShare (): number { return this.#cpuShare }

  async invoke (event: EncodedEvent, signal?: AbortSignal): Promise<InvokeResult> {
    const started = performance.now()
    // Arrived before the function had ever had an instance ready: a start-up request for the feedback price.
    const startup = !this.#everReady
    const fnLabel = { function: this.name }
    const admitted = this.#arrived()
    let serviceMs: number | undefined
    try {
      let result: InvokeResult
      try {
        result = await this.#invokeOnce(event, admitted === true, signal)
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
          result = await this.#invokeOnce(event, admitted === true, signal)
        } catch (err2) {
          if (err2 instanceof InstanceLostError) {
            throw new IotlessError('FUNCTION_CRASHED', `${this.name}: the instance exited during the invocation, twice (${err2.message})`)
          }
          throw err2
        }
      }
      this.#opts.metrics?.invocations.inc({ ...fnLabel, outcome: 'ok' })
      serviceMs = result.serviceMs
      return admitted === undefined ? result : { ...result, admitted }
    } catch (err) {
      this.#opts.metrics?.invocations.inc({ ...fnLabel, outcome: outcomeOf(err) })
      throw err
    } finally {
      const totalMs = performance.now() - started
      this.#opts.metrics?.invocationDuration.observe(fnLabel, totalMs / 1000)
      // What the request waited for its slot (as the SLO counts it); none for a refused or failed invocation.
      const waitMs = serviceMs === undefined ? undefined : Math.max(0, totalMs - serviceMs)
      const slo = this.#opts.slo
      if (slo !== undefined) {
        // A refused or failed invocation counts as missed: the caller did not get its answer in time.
        const within = waitMs !== undefined && waitMs <= slo.waitMs
        this.#opts.metrics?.capacitySlo.inc({ ...fnLabel, outcome: within ? 'within' : 'missed', guarantee: admitted === undefined ? 'none' : admitted ? 'admitted' : 'overflow' })
      }
      const now = this.#opts.clock.now()
      // The simulator reports the wait at the slot.
      if (waitMs !== undefined) this.#planner.scaler.onWait?.(now, waitMs, startup)
      this.#planner.scaler.onComplete(now, serviceMs)
      this.#reportWant()
    }
  }

  async #invokeOnce (event: EncodedEvent, admitted: boolean, signal?: AbortSignal): Promise<InvokeResult> {
    if (this.#closed) throw new IotlessError('POOL_CLOSED', `${this.name}: the pool is shutting down`)
    const coldStart = this.#breaker.inFlight >= this.#breaker.capacity
    const slot = this.#breaker.acquire(admitted, signal)
    this.#scale()
    await slot
    const inst = this.#pick()
    if (inst === undefined) {
      // Unreachable while the capacity invariant holds; fail loudly rather than lose the message.
      this.#breaker.release(admitted)
      throw new InstanceLostError('no ready instance held a free slot')
    }
    if (inst.idleTimer !== undefined) { this.#opts.clock.clearTimeout(inst.idleTimer); inst.idleTimer = undefined }
    inst.inFlight++
    inst.lastUsedAt = this.#opts.clock.now()
    const sent = performance.now()
    try {
      const reply = await this.#send(inst, event, signal)
      const serviceMs = performance.now() - sent
      return reply === undefined ? { coldStart, instanceId: inst.id, serviceMs } : { reply, coldStart, instanceId: inst.id, serviceMs }
    } finally {
      inst.inFlight--
      inst.lastUsedAt = this.#opts.clock.now()
      this.#breaker.release(admitted)
      if (inst.inFlight === 0 && inst.state === 'ready') {
        // Above what the box's share lets stand (capacity/functionPlanner.ts): stop it now it is idle.
        if (this.#ready.length > this.#planner.maxInstances()) void this.#retire(inst, 'over its share of the box')
        else this.#armKeepAlive(inst)
      }
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
      throw await this.#lost(inst, err)
    }
    let body: Buffer
    try {
      body = Buffer.from(await res.body.arrayBuffer())
    } catch (err) {
      throw await this.#lost(inst, err)
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

  /**
   * The instance went away under a request. Killed over its memory limit, the request fails with
   * FUNCTION_MEMORY_LIMIT and is not retried here (it may be what blew the limit); otherwise it may be retried,
   * unless it was the only request there: then it is the likely cause (poison).
   */
  async #lost (inst: Instance, err: unknown): Promise<Error> {
    this.#drop(inst, true)
    if ((this.#opts.memoryMb ?? 0) > 0) {
      // #drop has SIGKILLed it: its exit, and why, come at once.
      const exit = await inst.exited
      if (exit.memoryExceeded) {
        return new IotlessError('FUNCTION_MEMORY_LIMIT', `${this.name}: instance ${inst.id} went over functions.${this.name}.memoryMb (${this.#opts.memoryMb ?? 0} MB) and was killed during the invocation`, {
          details: { memoryMb: this.#opts.memoryMb, guard: inst.memoryGuard?.kind }
        })
      }
    }
    // A refused connection never delivered the request: the instance stopped listening (it is exiting, its exit not
    // yet seen), so this message cannot be what crashed it, and another instance may run it.
    return new InstanceLostError((err as Error).message, !neverDelivered(err) && this.#loadAtCrash.get(inst) === 1)
  }

  async #warmUp (inst: Instance): Promise<void> {
    try {
      const res = await inst.http?.request({ path: '/', method: 'POST', headers: { [WARMUP_HEADER]: '1', 'ce-type': WARMUP_EVENT_TYPE }, body: '', headersTimeout: this.#opts.timeoutMs, bodyTimeout: this.#opts.timeoutMs })
      await res?.body.dump()
    } catch { /* the instance serves or fails its first real request as it would have */ }
  }

  /** An instance with a free slot, as the dispatch strategy says (default busiest-first: the others go idle and can be reaped). */
  #pick (): Instance | undefined {
    return (this.#opts.dispatch ?? busiestFirst).pick(this.#ready, this.#opts.concurrency)
  }

  /** Starts instances for the requests in flight and waiting, less `leaving` (requests on an instance being dropped). */
  #scale (leaving = 0): void {
    if (this.#closed) return
    const wanted = Math.min(this.#opts.maxScale, this.#planner.target(this.#view(leaving)))
    for (let have = this.#ready.length + this.#starting; have < wanted; have++) this.#spawn()
    this.#reportWant()
  }

  #view (leaving = 0): PoolView {
    return { inFlight: this.#breaker.inFlight - leaving, waiting: this.#breaker.waiting, ready: this.#ready.length, starting: this.#starting }
  }

  #reportWant (): void {
    if (!this.#closed) this.#opts.box?.want(this.#planner, this.#planner.wanted(this.#view()))
  }

  /** Counts an arrival; with a guarantee, returns whether it is within it. */
  #arrived (): boolean | undefined {
    const now = this.#opts.clock.now()
    const gate = this.#opts.gate
    const admitted = gate?.admit(now)
    if (admitted !== undefined) this.#opts.metrics?.capacityGuarantee.inc({ function: this.name, outcome: admitted ? 'admitted' : 'overflow' })
    this.#lastActiveAt = now
    this.#onArrival?.(now)
    this.#planner.scaler.onArrival(now)
    this.#ensureTicking()
    return admitted
  }

  /** Scalers that decide on a period (KPA-like, SLO) tick on the clock while the function is active. */
  #ensureTicking (): void {
    const period = this.#planner.scaler.periodMs
    if (period === undefined || this.#tickTimer !== undefined || this.#closed) return
    this.#tickTimer = this.#opts.clock.setTimeout(() => { this.#tick() }, period)
  }

  #tick (): void {
    this.#tickTimer = undefined
    if (this.#closed) return
    const { clock } = this.#opts
    const now = clock.now()
    const scaler = this.#planner.scaler
    scaler.tick(now, this.#view())
    this.#onTick?.(now)
    this.#scale()
    const idleMs = scaler.reapIdleMs
    if (idleMs !== undefined) {
      let excess = this.#ready.length - Math.max(this.#warmFloor, this.#planner.keep())
      for (const inst of [...this.#ready]) {
        if (excess <= 0) break
        if (inst.inFlight === 0 && inst.state === 'ready' && now - inst.lastUsedAt >= idleMs) { void this.#retire(inst, 'above the scaler\'s count'); excess-- }
      }
    }
    // Quiet (nothing standing, nothing arriving for 3 minutes, more than any window): stop ticking until the next request.
    const quiet = this.#ready.length + this.#starting === 0 && this.#breaker.inFlight + this.#breaker.waiting === 0 && now - this.#lastActiveAt > 180_000
    if (!quiet) this.#ensureTicking()
  }

  /** Called after each tick (the capacity metrics hook in). */
  #onTick: ((nowMs: number) => void) | undefined
  set onTick (fn: ((nowMs: number) => void) | undefined) { this.#onTick = fn }

  /**
   * The box's allocation changed: deflate every instance to its share (at most to minCpuShare), stop idle ones the
   * share cannot hold (busy ones stop when they finish), or start more when it grew.
   */
  #enforce (): void {
    if (this.#closed) return
    let excess = this.#ready.length + this.#starting - this.#planner.maxInstances()
    for (const inst of [...this.#ready]) {
      if (excess <= 0) break
      if (inst.inFlight === 0 && inst.state === 'ready') { void this.#retire(inst, 'over its share of the box'); excess-- }
    }
    this.#applyCpuShare()
    this.#scale()
  }

  #applyCpuShare (): void {
    const share = this.#planner.cpuShare(this.#ready.length + this.#starting)
    if (share === this.#cpuShare) return
    this.#cpuShare = share
    const q = this.#opts.cpuQuota
    if (q === undefined) return
    for (const inst of this.#ready) if (inst.child.pid !== undefined) q.set(inst.child.pid, share)
  }

  /** Starts instances until `count` are ready or starting (pre-warming); never beyond maxScale. */
  prewarm (count: number): void {
    const target = Math.min(this.#opts.maxScale, count)
    for (let have = this.#ready.length + this.#starting; have < target && !this.#closed; have++) this.#spawn()
    this.#reportWant()
  }

  /**
   * Pre-invocation (capacity/preInvoker.ts): let the guarantee's reservation go between two bursts of a periodic
   * function (the box may give it to others, the reserved slots open to overflow), or hold it again (its instances
   * start now, and the box owes them first).
   */
  holdReservation (held: boolean): void {
    if (this.#planner.reservationHeld === held || this.#closed) return
    this.#planner.reservationHeld = held
    this.#breaker.setReservedSlots(this.#opts.gate === undefined ? 0 : this.#planner.reserved * this.#opts.concurrency)
    this.#scale()
  }

  /** Called on every arrival, before it is served (pre-invocation learns the function's period from it). */
  #onArrival: ((nowMs: number) => void) | undefined
  set onArrival (fn: ((nowMs: number) => void) | undefined) { this.#onArrival = fn }

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
    this.#planner.floor = floor
    if (floor > 0) this.prewarm(floor)
    if (lowered) {
      for (const inst of this.#ready) if (inst.inFlight === 0 && inst.idleTimer === undefined) this.#armKeepAlive(inst)
    }
  }

  /** How long a new instance takes to start now (ms, on the pool's clock): the longest recent or running start. */
  get startCostMs (): number { return this.#startCost.estimateMs(this.#opts.clock.now()) }

  /**
   * Prefetch release: stops idle instances beyond what the pool keeps (the warm floor, the scaler's count, a held
   * reservation) without waiting for keep-alive. Returns how many. An idle instance goes only once it has been
   * idle for as long as a new one takes to start now (startCostMs, at most keepAliveMs); one idle for less goes
   * when that time is up, unless it is used again or kept by then. Stopping it sooner would make the stack restart
   * what it needs again before a restart could finish: on a loaded machine, where starts take seconds, that loop
   * spent the stack's CPU on process starts and a prefetch-on stack stopped answering where one without prefetch
   * (keep-alive alone) kept up. On an unloaded machine a start takes a fraction of a second, so releases happen at
   * the minute boundary as the policy decides.
   */
  releaseIdle (): number {
    const now = this.#opts.clock.now()
    const minIdleMs = Math.min(this.#opts.keepAliveMs, this.#startCost.estimateMs(now))
    let excess = this.#ready.length - Math.max(this.#warmFloor, this.#planner.keep())
    let stopped = 0
    for (const inst of [...this.#ready]) {
      if (excess <= 0) break
      if (inst.inFlight !== 0 || inst.state !== 'ready') continue
      const idleMs = now - inst.lastUsedAt
      if (idleMs >= minIdleMs) {
        void this.#retire(inst, 'prefetch release')
        excess--
        stopped++
      } else {
        this.#armKeepAlive(inst, minIdleMs - idleMs, 'prefetch release')
      }
    }
    return stopped
  }

  #spawn (): void {
    this.#starting++
    this.#spawned++
    this.#opts.metrics?.coldStarts.inc({ function: this.name })
    const gate = this.#opts.startGate
    if (gate === undefined) { this.#launch(undefined); return }
    const turn = { cancel: (): boolean => false }
    this.#gated.add(turn)
    // A guaranteed function's starts go ahead of the others' (startGate.ts `urgent`).
    turn.cancel = gate.enter(() => {
      this.#gated.delete(turn)
      if (this.#closed) { this.#starting--; gate.leave(); return }
      this.#launch(gate)
    }, this.#opts.gate !== undefined)
  }

  /** Spawns the instance's process (or takes a spare); `gate`: left once the start has ended, ready or failed. */
  #launch (gate: StartGate | undefined): void {
    const { log, metrics, clock } = this.#opts
    let left = false
    const leave = (): void => { if (!left) { left = true; gate?.leave() } }
    const t0 = performance.now()
    const spare = this.#envKey === undefined ? undefined : this.#opts.spares?.take(this.#envKey)
    if (spare !== undefined) metrics?.capacitySpareStarts.inc({ function: this.name })
    const inst = new Instance({ name: this.name, modulePath: this.#opts.modulePath, config: this.#opts.config, effects: this.#opts.effects, tracing: this.#opts.tracing }, this.#opts.env, { ...this.#opts.limits, memoryMb: this.#opts.memoryMb ?? 0 }, spare)
    this.#all.add(inst)
    this.#startCost.begin(inst.id, clock.now())
    log.debug({ function: this.name, instance: inst.id, pid: inst.child.pid }, 'cold start')
    let timedOut = false
    const timer = clock.setTimeout(() => {
      timedOut = true
      inst.child.kill('SIGKILL')
    }, this.#opts.initTimeoutMs)
    const failed = (error: IotlessError): void => {
      this.#starting--
      // Stopped by close() while it was starting: not a failure to report.
      if (this.#closed) return
      log.error({ function: this.name, code: error.code, err: error.message }, 'instance failed to start')
      // With nothing else able to serve them, the waiting requests would wait forever: fail them now.
      if (this.#ready.length === 0 && this.#starting === 0) this.#breaker.rejectWaiting(error)
    }
    const initTimeout = (): IotlessError => new IotlessError('FUNCTION_INIT_TIMEOUT', `${this.name}: instance not ready within ${this.#opts.initTimeoutMs} ms`)
    inst.whenReady().then(async (port) => {
      leave()
      clock.clearTimeout(timer)
      this.#startCost.end(inst.id, clock.now())
      if (this.#closed) { this.#starting--; void inst.stop(); return }
      // Its ready message and the init timeout came in the same turn (a loaded machine): it has been SIGKILLed, so
      // it must not serve. Marked ready, the next request would find it gone and be dead-lettered as poison.
      if (timedOut) { failed(initTimeout()); return }
      inst.markReady(port, this.#opts.concurrency)
      // A guaranteed function's first invocation on a new instance must not pay for its first connection and the
      // server's first request (seen: 176 ms for a 50-ms handler under load): one warm-up request first (answered
      // by the SDK without calling the handler, functions/sdk/warmup.ts).
      if (this.#opts.gate !== undefined) await this.#warmUp(inst)
      this.#starting--
      if (this.#closed || inst.state !== 'ready') { void inst.stop(); return }
      this.#lastStart = { fromSpare: inst.fromSpare, startedAt: inst.startedAt, timings: inst.timings }
      inst.lastUsedAt = clock.now()
      this.#ready.push(inst)
      this.#everReady = true
      if (inst.child.pid !== undefined) this.#opts.cpuQuota?.add(inst.child.pid, this.#cpuShare)
      metrics?.coldStartDuration.observe({ function: this.name }, (performance.now() - t0) / 1000)
      this.#updateCapacity()
      if (inst.inFlight === 0) this.#armKeepAlive(inst)
    }, (err: Error & { code?: string }) => {
      leave()
      clock.clearTimeout(timer)
      this.#startCost.end(inst.id, clock.now())
      failed(timedOut ? initTimeout() : new IotlessError(err.code === 'FUNCTION_NOT_FOUND' ? 'FUNCTION_NOT_FOUND' : 'FUNCTION_INIT_FAILED', err.message))
    })
    void inst.exited.then(({ code, signal, memoryExceeded }) => {
      this.#all.delete(inst)
      if (memoryExceeded) {
        metrics?.instanceMemoryKills.inc({ function: this.name })
        log.warn({ function: this.name, instance: inst.id, code: 'FUNCTION_MEMORY_LIMIT', memoryMb: this.#opts.memoryMb, guard: inst.memoryGuard?.kind }, 'instance went over its memory limit and was killed')
      }
      if (inst.child.pid !== undefined) this.#opts.cpuQuota?.remove(inst.child.pid)
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

  #armKeepAlive (inst: Instance, ms = this.#opts.keepAliveMs, reason = 'keep-alive expired'): void {
    const { clock } = this.#opts
    if (inst.idleTimer !== undefined) clock.clearTimeout(inst.idleTimer)
    inst.idleTimer = clock.setTimeout(() => {
      inst.idleTimer = undefined
      // Under the prefetch floor (or the scaler's count) the instance stays, without a timer; setWarmFloor or the
      // scaler's tick re-arms or reaps it when the count drops.
      if (this.#ready.length <= Math.max(this.#warmFloor, this.#planner.keep())) return
      if (inst.inFlight === 0 && inst.state === 'ready') void this.#retire(inst, reason)
    }, ms)
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
    this.#opts.clock.clearTimeout(this.#tickTimer)
    this.#tickTimer = undefined
    this.#breaker.rejectWaiting(new IotlessError('POOL_CLOSED', `${this.name}: the pool is shutting down`))
    for (const turn of this.#gated) if (turn.cancel()) this.#starting--
    this.#gated.clear()
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
    case 'FUNCTION_MEMORY_LIMIT': return 'memory'
    case 'FUNCTION_TIMEOUT': return 'timeout'
    case 'BREAKER_QUEUE_FULL':
    case 'POOL_CLOSED': return 'rejected'
    default: return 'error'
  }
}
