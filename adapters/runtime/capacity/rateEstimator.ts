/**
 * Arrival rate and service time of one function, as LaSS estimates them every scheduling period
 * (umassos/openwhisk EdgeBalancer.scala): the rate over a long window (2 minutes), or over a short burst window
 * (10 seconds) when that one is at least twice as high. Arrivals are counted in 1-second buckets of a ring, so the
 * state is a fixed few hundred bytes however high the rate; the clock is whatever the caller passes in (ms).
 */
export interface RateWindows {
  /** LaSS: 120000 ms. */
  longWindowMs: number
  /** LaSS: 10000 ms. */
  burstWindowMs: number
}

const BUCKET_MS = 1000

export class RateEstimator {
  readonly #long: number
  readonly #burst: number
  readonly #counts: Uint32Array
  /** The bucket index (floor(t / 1 s)) the ring's newest slot stands for. */
  #head = -1
  #firstAt = -1
  #serviceMeanMs = 0
  #serviceSamples = 0
  /** Weight of one new service time in the running mean once 20 are in: an EWMA that follows a changing function. */
  static readonly SERVICE_ALPHA = 0.05

  constructor (windows: RateWindows) {
    this.#long = Math.max(1, Math.round(windows.longWindowMs / BUCKET_MS))
    this.#burst = Math.max(1, Math.min(this.#long, Math.round(windows.burstWindowMs / BUCKET_MS)))
    this.#counts = new Uint32Array(this.#long)
  }

  #advanceTo (bucket: number): void {
    if (this.#head < 0) { this.#head = bucket; return }
    if (bucket <= this.#head) return
    const steps = Math.min(this.#long, bucket - this.#head)
    for (let i = 1; i <= steps; i++) this.#counts[(this.#head + i) % this.#long] = 0
    this.#head = bucket
  }

  recordArrival (nowMs: number): void {
    const b = Math.floor(nowMs / BUCKET_MS)
    if (this.#firstAt < 0) this.#firstAt = nowMs
    this.#advanceTo(b)
    if (b < this.#head - this.#long + 1) return
    this.#counts[b % this.#long] = (this.#counts[b % this.#long] ?? 0) + 1
  }

  recordService (serviceMs: number): void {
    this.#serviceSamples++
    const alpha = this.#serviceSamples < 20 ? 1 / this.#serviceSamples : RateEstimator.SERVICE_ALPHA
    this.#serviceMeanMs += alpha * (serviceMs - this.#serviceMeanMs)
  }

  /** Mean service time, or undefined before the first invocation finished. */
  get serviceMs (): number | undefined { return this.#serviceSamples === 0 ? undefined : this.#serviceMeanMs }

  /**
   * Arrivals per second: the long window's rate, or the burst window's when it is at least `burstFactor` times as
   * high (LaSS: 2). With `z` > 0, each window's count n is raised to its upper confidence bound n + z sqrt(n) (a
   * Poisson count's standard deviation is sqrt(n)), so a function seen at a few requests a window is sized for the
   * rate it may well have rather than the one it happened to show; z = 0 is LaSS's point estimate.
   */
  rate (nowMs: number, z = 0, burstFactor = 2): number {
    this.#advanceTo(Math.floor(nowMs / BUCKET_MS))
    if (this.#head < 0) return 0
    let longN = 0
    let burstN = 0
    for (let i = 0; i < this.#long; i++) {
      const c = this.#counts[(this.#head - i + this.#long * 2) % this.#long] ?? 0
      longN += c
      if (i < this.#burst) burstN += c
    }
    // Before a window has filled, divide by the time seen so far, so a function's first seconds are not diluted.
    const seenS = Math.max(1, (nowMs - this.#firstAt) / 1000)
    const longRate = (longN + z * Math.sqrt(longN)) / Math.min(this.#long, seenS)
    const burstRate = (burstN + z * Math.sqrt(burstN)) / Math.min(this.#burst, seenS)
    return burstRate >= burstFactor * longRate ? burstRate : longRate
  }
}
