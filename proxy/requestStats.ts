/**
 * Time-weighted request concurrency and request counts, after knative/networking pkg/http/stats/request.go.
 *
 * Pure: callers pass the time of each event in milliseconds; nothing here reads a clock or does I/O.
 * Concurrency is Σ(concurrency × time at that level) / time elapsed since the last report, so two
 * requests of 500 ms each inside one 1 s window average 1.0. A proxied request (K-Proxy-Request:
 * activator) also counts in the totals, because the autoscaler subtracts the proxied figures from the
 * totals (pkg/autoscaler/metrics/collector.go record) so activator traffic is not counted twice.
 */
export interface StatsReport {
  averageConcurrency: number
  averageProxiedConcurrency: number
  /** Requests that arrived in the period (not yet divided by the period length). */
  requestCount: number
  proxiedRequestCount: number
}

export class RequestStats {
  #concurrency = 0
  #proxiedConcurrency = 0
  #requestCount = 0
  #proxiedCount = 0
  #weighted = 0
  #proxiedWeighted = 0
  #elapsedMs = 0
  #lastChangeMs: number

  constructor (startMs: number) { this.#lastChangeMs = startMs }

  get concurrency (): number { return this.#concurrency }

  #compute (nowMs: number): void {
    const d = nowMs - this.#lastChangeMs
    // A clock that steps back must not produce negative time; the interval is simply lost.
    if (d > 0) {
      this.#elapsedMs += d
      this.#weighted += this.#concurrency * d
      this.#proxiedWeighted += this.#proxiedConcurrency * d
      this.#lastChangeMs = nowMs
    } else if (d < 0) {
      this.#lastChangeMs = nowMs
    }
  }

  requestIn (nowMs: number, proxied: boolean): void {
    this.#compute(nowMs)
    this.#concurrency++
    this.#requestCount++
    if (proxied) { this.#proxiedConcurrency++; this.#proxiedCount++ }
  }

  requestOut (nowMs: number, proxied: boolean): void {
    this.#compute(nowMs)
    this.#concurrency--
    if (proxied) this.#proxiedConcurrency--
  }

  /** Closes the current period and starts the next one; in-flight requests carry over. */
  report (nowMs: number): StatsReport {
    this.#compute(nowMs)
    const r: StatsReport = {
      averageConcurrency: this.#elapsedMs > 0 ? this.#weighted / this.#elapsedMs : 0,
      averageProxiedConcurrency: this.#elapsedMs > 0 ? this.#proxiedWeighted / this.#elapsedMs : 0,
      requestCount: this.#requestCount,
      proxiedRequestCount: this.#proxiedCount
    }
    this.#weighted = 0
    this.#proxiedWeighted = 0
    this.#elapsedMs = 0
    this.#requestCount = 0
    this.#proxiedCount = 0
    return r
  }
}
