import { watchAbort } from '../../core/abortWatch.js'
import type { Clock } from '../../core/clock.js'
import type { DispatchResult, OutgoingEvent, Target } from '../target.js'

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 means no retry. */
  maxAttempts: number
  /** First backoff; each next one doubles, up to maxBackoffMs. */
  baseMs: number
  /** Default 5000 ms. */
  maxBackoffMs?: number
  /** A Retry-After longer than this is cut to it. Default 60000 ms. */
  maxRetryAfterMs?: number
}

export interface RetryOptions extends RetryPolicy {
  clock: Clock
  /** In [0, 1): injected so tests know the jitter. */
  random: () => number
  /** Once aborted, no further attempt starts and no backoff is waited out (stopping). */
  stopRetrying?: AbortSignal | undefined
  /** Called before each wait, with the attempt that failed (1-based) and the delay chosen. */
  onRetry?: ((attempt: number, delayMs: number, result: DispatchResult) => void) | undefined
}

/** What a retried dispatch ended as: the last result, how many attempts it took, and whether stopping cut it short. */
export interface RetriedResult {
  result: DispatchResult
  attempts: number
  /** True when stopping interrupted the retries: the last result is not final, the message is left to the broker. */
  interrupted: boolean
}

/**
 * The delay before attempt `attempt + 1`: exponential from baseMs with "equal jitter" (half fixed, half random),
 * capped; a target's Retry-After wins when it is longer. Pure.
 */
export function backoffDelayMs (policy: RetryPolicy, attempt: number, random: number, retryAfterMs?: number): number {
  const exp = Math.min(policy.maxBackoffMs ?? 5000, policy.baseMs * 2 ** (attempt - 1)) * (0.5 + random / 2)
  return Math.min(policy.maxRetryAfterMs ?? 60_000, Math.max(exp, retryAfterMs ?? 0))
}

/**
 * Retry as a wrapper around a Target, as undici's retry interceptor wraps a dispatcher
 * (undici lib/interceptor/retry.js): the target says what may pass next time (`retryable`, Knative
 * Eventing's classes for HTTP); this retries exactly that, with backoff on an injected clock and randomness.
 * A throw from the target is taken as a retryable handler error. It knows nothing about MQTT.
 */
export class RetryingTarget {
  readonly #target: Target
  readonly #o: RetryOptions

  constructor (target: Target, opts: RetryOptions) {
    if (!(opts.maxAttempts >= 1)) throw new RangeError(`maxAttempts must be >= 1, got ${opts.maxAttempts}`)
    this.#target = target
    this.#o = opts
  }

  get target (): Target { return this.#target }

  dispatch (functionName: string, event: OutgoingEvent, signal?: AbortSignal): Promise<RetriedResult> {
    return this.run((t) => t.dispatch(functionName, event, signal === undefined ? {} : { signal }), signal)
  }

  /**
   * One attempt is `send(target, attempt)` (attempt 1, 2, ...); retried while its result is retryable and attempts
   * remain. `settled`, when given, is called as each attempt ends, before any retry: with its result, or with
   * undefined and what it threw (the caller's attempt span ends there, without a promise of its own per attempt).
   */
  async run (send: (target: Target, attempt: number) => Promise<DispatchResult>, signal?: AbortSignal, settled?: (result: DispatchResult | undefined, error?: unknown) => void): Promise<RetriedResult> {
    const o = this.#o
    let attempt = 0
    for (;;) {
      attempt++
      let result: DispatchResult | undefined
      let error: unknown
      try {
        result = await send(this.#target, attempt)
      } catch (err) {
        error = err
      }
      settled?.(result, error)
      result ??= { status: 'rejected', retryable: true, code: 'FUNCTION_HANDLER_ERROR', message: (error as Error).message }
      if (result.status === 'ok' || !result.retryable) return { result, attempts: attempt, interrupted: false }
      if (signal?.aborted === true || o.stopRetrying?.aborted === true) return { result, attempts: attempt, interrupted: true }
      if (attempt >= o.maxAttempts) return { result, attempts: attempt, interrupted: false }
      const delayMs = backoffDelayMs(o, attempt, o.random(), result.retryAfterMs)
      o.onRetry?.(attempt, delayMs, result)
      if (!await this.#sleep(delayMs, signal)) return { result, attempts: attempt, interrupted: true }
    }
  }

  /** Waits, unless stopping begins (or the signal aborts) first: then false. */
  #sleep (ms: number, signal: AbortSignal | undefined): Promise<boolean> {
    const signals = [this.#o.stopRetrying, signal].filter((s): s is AbortSignal => s !== undefined)
    if (signals.some((s) => s.aborted)) return Promise.resolve(false)
    const clock = this.#o.clock
    return new Promise((resolve) => {
      let settled = false
      const done = (value: boolean): void => {
        if (settled) return
        settled = true
        clock.clearTimeout(timer)
        for (const stop of stops) stop()
        resolve(value)
      }
      // One listener per shared signal for every message in backoff (abortWatch.ts), not one each.
      const stops = signals.map((s) => watchAbort(s, () => { done(false) }))
      const timer = clock.setTimeout(() => { done(true) }, ms)
    })
  }
}
