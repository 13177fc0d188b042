import type { DispatchResult, OutgoingEvent, Target } from '../../adapters/target.js'

/**
 * A Target that records each dispatch as an arrival (the in-process arrival source of prefetch), then hands it
 * to the wrapped Target unchanged. Arrivals are counted when the adapter dispatches, before the function runs,
 * so a retry of the same message counts again, as it does on the platform.
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
  }

  dispatch (functionName: string, event: OutgoingEvent, opts?: { signal?: AbortSignal }): Promise<DispatchResult> {
    this.#record(functionName, 1)
    return this.inner.dispatch(functionName, event, opts)
  }

  /** A micro-batch is one invocation, so one arrival, as the platform sees it. Absent when the inner target has none. */
  readonly dispatchBatch?: (functionName: string, events: OutgoingEvent[], opts?: { signal?: AbortSignal }) => Promise<DispatchResult>

  close (): Promise<void> { return this.inner.close() }
}
