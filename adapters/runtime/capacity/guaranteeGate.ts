export interface Guarantee {
  /** Invocations per second the function is owed. */
  ratePerSec: number
  /** Invocations above the rate it may send at once (the bucket's depth). */
  burst: number
}

/**
 * Real-time Serverless's guaranteed invocation rate (Nguyen, Zhang, Xiao, Chien, WoSC 2019) as a token bucket of
 * `burst` tokens refilled at `ratePerSec`: an invocation that finds a token is within the guarantee; one that finds
 * none is best effort. On explicit time, no timers. Counts what it admitted and what overflowed, for the metrics.
 */
export class GuaranteeGate {
  readonly guarantee: Guarantee
  #tokens: number
  #at: number | undefined
  admitted = 0
  overflow = 0

  constructor (g: Guarantee) {
    this.guarantee = g
    this.#tokens = Math.max(1, g.burst)
  }

  admit (nowMs: number): boolean {
    const depth = Math.max(1, this.guarantee.burst)
    if (this.#at !== undefined && nowMs > this.#at) this.#tokens = Math.min(depth, this.#tokens + (nowMs - this.#at) * this.guarantee.ratePerSec / 1000)
    if (this.#at === undefined || nowMs > this.#at) this.#at = nowMs
    if (this.#tokens >= 1) { this.#tokens -= 1; this.admitted++; return true }
    this.overflow++
    return false
  }
}
