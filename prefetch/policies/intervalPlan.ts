import { MINUTE_MS, type Decision } from './policy.js'

/**
 * Up to `capacity` warm windows [start, end) in idle minutes after a function's last arrival minute (idle minute 0
 * is the minute right after it), ascending and disjoint. Adding an overlapping or touching window merges it; once
 * full, a further window widens the last one (so nothing asked for is dropped, at some memory cost).
 */
export class IntervalPlan {
  readonly #iv: Int32Array
  #n = 0

  constructor (readonly capacity = 8) {
    this.#iv = new Int32Array(2 * capacity)
  }

  get bytes (): number { return this.#iv.byteLength + 8 }
  get length (): number { return this.#n }

  clear (): void { this.#n = 0 }

  /** Adds [start, end); windows must come in ascending order of start. */
  add (start: number, end: number): void {
    if (end <= start) return
    const iv = this.#iv
    const n = this.#n
    if (n > 0) {
      const lastEnd = iv[2 * n - 1] ?? 0
      if (start <= lastEnd || n === this.capacity) {
        iv[2 * n - 1] = Math.max(lastEnd, end)
        return
      }
    }
    iv[2 * n] = start
    iv[2 * n + 1] = end
    this.#n = n + 1
  }

  intervals (): Array<[number, number]> {
    const out: Array<[number, number]> = []
    for (let k = 0; k < this.#n; k++) out.push([this.#iv[2 * k] ?? 0, this.#iv[2 * k + 1] ?? 0])
    return out
  }

  /**
   * The decision at `nowMinute` for a function whose last arrival minute is `lastMinute`: the window covering or
   * next after the current idle minute, or "release after the arrival minute" when none is left.
   */
  decision (lastMinute: number, nowMinute: number): Decision {
    const base = lastMinute + 1
    const j = nowMinute - base
    const iv = this.#iv
    for (let k = 0; k < this.#n; k++) {
      const start = iv[2 * k] ?? 0
      const end = iv[2 * k + 1] ?? 0
      if (end > j) return { prewarmAt: (base + Math.max(start, Math.min(j, end))) * MINUTE_MS, keepAliveUntil: (base + end) * MINUTE_MS, instances: 1 }
    }
    return { prewarmAt: lastMinute * MINUTE_MS, keepAliveUntil: base * MINUTE_MS, instances: 1 }
  }
}
