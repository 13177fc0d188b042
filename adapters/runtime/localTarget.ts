import { toBatchBody, toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { isIotlessError, type ErrorCode } from '../../core/errors.js'
import type { DispatchResult, OutgoingEvent, Target, TargetLoad } from '../target.js'
import { ArrivalLoad } from '../placement/arrivalLoad.js'
import type { FunctionPool } from './functionPool.js'

/**
 * Only these may succeed if sent again; a handler error or a bad reply would fail the same way. Not
 * FUNCTION_CRASHED: the pool has already retried a message that may have been a bystander, and one that
 * crashed its instance alone is poison, which every retry would pay for with a new process.
 */
const RETRYABLE = new Set<ErrorCode>(['BREAKER_QUEUE_FULL', 'FUNCTION_INIT_FAILED', 'FUNCTION_INIT_TIMEOUT'])

/** The embedded pool as a Target: one FunctionPool per function, events sent as binary-mode CloudEvents. */
export class LocalTarget implements Target {
  readonly kind = 'local'
  readonly pools: ReadonlyMap<string, FunctionPool>
  /** Arrivals and service times per function: the offered load placement expects a run to share the CPU with. */
  readonly arrivals: ReadonlyMap<string, ArrivalLoad>
  /** Each function's requests here, oldest first (startedAt: when it got a slot, as the pool serves them in order). */
  readonly #work = new Map<string, Array<{ bytes: number; startedAt: number | undefined }>>()
  readonly #now: () => number

  constructor (pools: Iterable<FunctionPool>, now: () => number = () => performance.now()) {
    this.pools = new Map([...pools].map((p) => [p.name, p]))
    this.arrivals = new Map([...this.pools.keys()].map((name) => [name, new ArrivalLoad(now)]))
    for (const name of this.pools.keys()) this.#work.set(name, [])
    this.#now = now
  }

  dispatch (functionName: string, event: OutgoingEvent, opts: { signal?: AbortSignal } = {}): Promise<DispatchResult> {
    return this.#send(functionName, toBinaryHeaders(event.attributes), event.data, opts.signal)
  }

  /** A micro-batch as one request: a CloudEvents batch, which the SDK hands to the handler event by event or whole. */
  dispatchBatch (functionName: string, events: OutgoingEvent[], opts: { signal?: AbortSignal } = {}): Promise<DispatchResult> {
    return this.#send(functionName, { 'content-type': 'application/cloudevents-batch+json' }, toBatchBody(events), opts.signal)
  }

  async #send (functionName: string, headers: Record<string, string>, body: Buffer, signal: AbortSignal | undefined): Promise<DispatchResult> {
    const pool = this.pools.get(functionName)
    if (pool === undefined) {
      return { status: 'rejected', retryable: false, code: 'FUNCTION_NOT_FOUND', message: `no local function named ${functionName}` }
    }
    const arrivals = this.arrivals.get(functionName) as ArrivalLoad
    arrivals.arrived()
    const work = this.#work.get(functionName) as Array<{ bytes: number; startedAt: number | undefined }>
    let started = 0
    for (const w of work) if (w.startedAt !== undefined) started++
    const mine = { bytes: body.length, startedAt: started < pool.slots ? this.#now() : undefined }
    work.push(mine)
    try {
      const result = await pool.invoke({ headers, body }, signal)
      if (result.serviceMs !== undefined) arrivals.served(result.serviceMs)
      // handlerMs: the instance's own time (send to reply over IPC), without the wait for a slot or a start.
      return result.reply === undefined
        ? { status: 'ok', coldStart: result.coldStart, handlerMs: result.serviceMs }
        : { status: 'ok', reply: result.reply, coldStart: result.coldStart, handlerMs: result.serviceMs }
    } catch (err) {
      if (isIotlessError(err)) return { status: 'rejected', retryable: RETRYABLE.has(err.code), code: err.code, message: err.message }
      throw err
    } finally {
      const k = work.indexOf(mine)
      if (k >= 0) work.splice(k, 1)
      // Its slot goes to the oldest request still waiting.
      if (mine.startedAt !== undefined) {
        const next = work.find((w) => w.startedAt === undefined)
        if (next !== undefined) next.startedAt = this.#now()
      }
    }
  }

  /** The pool's load, exact: adapters/placement predicts queueing and cold starts from it. */
  load (functionName: string): TargetLoad | undefined {
    const pool = this.pools.get(functionName)
    if (pool === undefined) return undefined
    let otherInFlight = 0
    let utilization = 0
    const competingServiceMs: number[] = []
    for (const other of this.pools.values()) {
      if (other !== pool) {
        otherInFlight += other.inFlight
        const a = this.arrivals.get(other.name) as ArrivalLoad
        utilization += a.utilization()
        a.pushServiceSamples(competingServiceMs)
      }
    }
    // This function's own arrivals share the CPU with a run only where it runs several at once; else they queue.
    // (Their service times join the competing sizes unweighted by (slots - 1) / slots: they shape, not scale.)
    if (pool.slots > 1) {
      const own = this.arrivals.get(functionName) as ArrivalLoad
      utilization += own.utilization() * (pool.slots - 1) / pool.slots
      own.pushServiceSamples(competingServiceMs)
    }
    const now = this.#now()
    const work = (this.#work.get(functionName) ?? []).map((w) => ({ bytes: w.bytes, elapsedMs: w.startedAt === undefined ? undefined : now - w.startedAt }))
    return { inFlight: pool.inFlight, queued: pool.queued, warmInstances: pool.warmInstances, otherInFlight, utilization: Math.min(0.9, utilization), competingServiceMs, work }
  }

  async close (): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()))
  }
}
