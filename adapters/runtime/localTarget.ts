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
  /** Arrivals and service times of every function on this machine: the offered load placement expects a run to share the CPU with. */
  readonly arrivals: ArrivalLoad

  constructor (pools: Iterable<FunctionPool>, now: () => number = () => performance.now()) {
    this.pools = new Map([...pools].map((p) => [p.name, p]))
    this.arrivals = new ArrivalLoad(now)
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
    this.arrivals.arrived()
    try {
      const result = await pool.invoke({ headers, body }, signal)
      if (result.serviceMs !== undefined) this.arrivals.served(result.serviceMs)
      // handlerMs: the instance's own time (send to reply over IPC), without the wait for a slot or a start.
      return result.reply === undefined
        ? { status: 'ok', coldStart: result.coldStart, handlerMs: result.serviceMs }
        : { status: 'ok', reply: result.reply, coldStart: result.coldStart, handlerMs: result.serviceMs }
    } catch (err) {
      if (isIotlessError(err)) return { status: 'rejected', retryable: RETRYABLE.has(err.code), code: err.code, message: err.message }
      throw err
    }
  }

  /** The pool's load, exact: adapters/placement predicts queueing and cold starts from it. */
  load (functionName: string): TargetLoad | undefined {
    const pool = this.pools.get(functionName)
    if (pool === undefined) return undefined
    let otherInFlight = 0
    for (const other of this.pools.values()) if (other !== pool) otherInFlight += other.inFlight
    return { inFlight: pool.inFlight, queued: pool.queued, warmInstances: pool.warmInstances, otherInFlight, utilization: this.arrivals.utilization() }
  }

  async close (): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()))
  }
}
