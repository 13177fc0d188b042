import type { DispatchResult, OutgoingEvent, Target, TargetLoad } from '../../adapters/target.js'

/**
 * A Target that records each dispatch as an arrival (the in-process arrival source of prefetch), then hands it
 * to the wrapped Target unchanged. Arrivals are counted when the adapter dispatches, before the function runs,
 * so a retry of the same message counts again, as it does on the platform. The wrapped Target's `load()` (the
 * local pool's exact load, which placement reads to know cold starts and queueing) is passed on, not hidden.
 */
export class ArrivalRecordingTarget implements Target {
  readonly kind: string
  readonly inner: Target
  readonly #record: (fn: string, count: number) => void

  constructor (inner: Target, record: (fn: string, count: number) => void) {
    this.inner = inner
    this.kind = inner.kind
    this.#record = record
    const batch = inner.dispatchBatch?.bind(inner)
    if (batch !== undefined) {
      this.dispatchBatch = (functionName, events, opts) => {
        this.#record(functionName, 1)
        return batch(functionName, events, opts)
      }
    }
    const load = inner.load?.bind(inner)
    if (load !== undefined) this.load = load
  }

  dispatch (functionName: string, event: OutgoingEvent, opts?: { signal?: AbortSignal }): Promise<DispatchResult> {
    this.#record(functionName, 1)
    return this.inner.dispatch(functionName, event, opts)
  }

  /** A micro-batch is one invocation, so one arrival, as the platform sees it. Absent when the inner target has none. */
  readonly dispatchBatch?: (functionName: string, events: OutgoingEvent[], opts?: { signal?: AbortSignal }) => Promise<DispatchResult>

  /** The wrapped Target's load, when it reports one (the local pool). Absent when the inner target has none. */
  readonly load?: (functionName: string) => TargetLoad | undefined

  close (): Promise<void> { return this.inner.close() }
}
