/**
 * A token bucket on explicit time (no timers, no clock reads): `capacity` tokens, refilled at one token per
 * `refillMs`. `take(now)` spends a token when one is there. Used to rate-limit API patches per function.
 */
export class TokenBucket {
  readonly capacity: number
  readonly refillMs: number
  #tokens: number
  #at: number | undefined

  constructor (capacity: number, refillMs: number) {
    if (!(capacity >= 1) || !(refillMs > 0)) throw new RangeError(`token bucket needs capacity >= 1 and refillMs > 0, got ${capacity}, ${refillMs}`)
    this.capacity = capacity
    this.refillMs = refillMs
    this.#tokens = capacity
  }

  #refill (nowMs: number): void {
    if (this.#at === undefined) { this.#at = nowMs; return }
    if (nowMs <= this.#at) return
    this.#tokens = Math.min(this.capacity, this.#tokens + (nowMs - this.#at) / this.refillMs)
    this.#at = nowMs
  }

  /** Tokens available at `nowMs` (fractional while refilling). */
  available (nowMs: number): number { this.#refill(nowMs); return this.#tokens }

  take (nowMs: number): boolean {
    this.#refill(nowMs)
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** Milliseconds from `nowMs` until a token is there (0 when one is). */
  waitMs (nowMs: number): number {
    this.#refill(nowMs)
    return this.#tokens >= 1 ? 0 : Math.ceil((1 - this.#tokens) * this.refillMs)
  }
}
