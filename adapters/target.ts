import type { CloudEventAttributes } from '../core/cloudEventHttp.js'
import type { ErrorCode } from '../core/errors.js'

/** An event on its way to a function: CloudEvent attributes plus the data as bytes. */
export interface OutgoingEvent {
  attributes: CloudEventAttributes
  data: Buffer
}

export interface ReplyPayload {
  data: Buffer
  contentType: string
  /** W3C trace context of the reply (a remote target's `traceparent` response header), to carry back to the device. */
  traceparent?: string
  /** When the reply is itself a binary-mode CloudEvent (`ce-` response headers), its attributes, decoded. */
  attributes?: CloudEventAttributes
}

/**
 * What a target says about one event:
 * - `ok`: accepted and finished, possibly with a reply;
 *   `activationId`: an asynchronous target (OpenWhisk 202) accepted it and will run it later.
 *   `handlerMs`: the handler's own time, when the target reports it (the `Server-Timing: handler;dur=` header).
 * - `rejected`: not done. `retryable` tells whether sending it again may succeed; `httpStatus` is the
 *   target's HTTP status when there was one, `retryAfterMs` its Retry-After.
 */
export type DispatchResult =
  | { status: 'ok'; reply?: ReplyPayload; coldStart?: boolean; activationId?: string; handlerMs?: number }
  | { status: 'rejected'; retryable: boolean; code: ErrorCode; message: string; httpStatus?: number; retryAfterMs?: number; emptyBody?: boolean }

/** How busy a target is for one function right now (adapters/placement reads it to predict queueing and cold starts). */
export interface TargetLoad {
  /** Requests running. */
  inFlight: number
  /** Requests waiting for a slot. */
  queued: number
  /** Instances ready to serve (0: the next request waits for a cold start). */
  warmInstances: number
  /** Requests running for the other functions on the same machine (the local pool: its other pools), which share its CPU. */
  otherInFlight?: number
  /**
   * The offered load of arrivals that would share the CPU with a run of this function started now (rate x mean
   * service time, adapters/placement/arrivalLoad.ts): the other functions' on the machine, and this one's when
   * it runs several at once.
   */
  utilization?: number
  /**
   * The service times (ms, over the same window) of the arrivals `utilization` counts, one per arrival served:
   * placement weighs how much of that load can meet a run during its own life (arrivalLoad.ts lifeShare).
   */
  competingServiceMs?: readonly number[]
  /**
   * This function's requests there now, oldest first: `elapsedMs` since each got its slot, undefined while it
   * waits for one. Placement predicts the wait ahead of a new request from them (what the running ones have left).
   */
  work?: ReadonlyArray<{ bytes: number; elapsedMs: number | undefined }>
}

/** One interface for every place a function runs (local pool now; Knative, Eventing sink, OpenWhisk later). */
export interface Target {
  readonly kind: string
  dispatch(functionName: string, event: OutgoingEvent, opts?: { signal?: AbortSignal }): Promise<DispatchResult>
  /**
   * Optional: one invocation for several events (micro-batching), sent as a CloudEvents batch
   * (`application/cloudevents-batch+json`). Without it the adapter sends the batch body through dispatch.
   */
  dispatchBatch?(functionName: string, events: OutgoingEvent[], opts?: { signal?: AbortSignal }): Promise<DispatchResult>
  /** Optional: its load for a function, when it knows it exactly (the local pool); undefined for an unknown function. */
  load?(functionName: string): TargetLoad | undefined
  close(): Promise<void>
}
