import { MINUTE_MS, RELEASE, minuteOf, type Decision } from './policy.js'

/**
 * The reactive policies' whole state: each function's last minute with an arrival, and the decision they share:
 * warm from that minute, kept `lingerMs` past its end, then released (fixed keep-alive, Knative's scale to zero).
 */
export class LastArrivalKeepAlive {
  readonly #lingerMs: number
  readonly #lastMinute = new Map<string, number>()

  constructor (lingerMs: number) { this.#lingerMs = lingerMs }

  observe (fn: string, timeMs: number, count: number): void {
    if (count <= 0) return
    const m = minuteOf(timeMs)
    if (m > (this.#lastMinute.get(fn) ?? -1)) this.#lastMinute.set(fn, m)
  }

  decide (fn: string): Decision {
    const last = this.#lastMinute.get(fn)
    if (last === undefined) return RELEASE
    return { prewarmAt: last * MINUTE_MS, keepAliveUntil: (last + 1) * MINUTE_MS + this.#lingerMs, instances: 1 }
  }

  /** One minute number (8 bytes) per function seen. */
  stateBytes (fn: string): number { return this.#lastMinute.has(fn) ? 8 : 0 }
}
