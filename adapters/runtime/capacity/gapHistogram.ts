/**
 * The distribution of one function's inter-arrival gaps, as a histogram of fixed size with log-spaced bins
 * (0.25 s x 2^(k/2): 0.25 s .. 3 days, 42 bins) and exponential forgetting (the newest `memory` gaps weigh most),
 * so it follows a function whose pattern changes. Pure: it is given the gaps, it reads no clock.
 *
 * What the SLO sizer asks it: the hazard of the next arrival at an idle age, i.e. the expected arrivals per second
 * over the coming horizon given that none came for `age` ms. For a Poisson function it is the rate at every age; for a
 * bursty one it falls with the age (keep warm just after a request, not later); for a periodic one it peaks near the
 * period (start an instance just before it: pre-invocation).
 */
const FIRST_EDGE_MS = 250
const BINS = 42
/** Edge k (upper bound of bin k) in ms; the last bin has no upper bound. */
const EDGES = Float64Array.from({ length: BINS }, (_, k) => FIRST_EDGE_MS * 2 ** (k / 2))

export class GapHistogram {
  readonly #counts = new Float64Array(BINS + 1)
  /** Weight the next gap gets; it grows by 1 / (1 - 1/memory) each gap, and everything is rescaled before it overflows. */
  #weight = 1
  readonly #growth: number
  #gaps = 0

  /** `memory`: about how many recent gaps the histogram reflects (200). */
  constructor (memory = 200) {
    this.#growth = 1 / (1 - 1 / Math.max(2, memory))
  }

  /** Gaps recorded so far (not decayed). */
  get gaps (): number { return this.#gaps }

  record (gapMs: number): void {
    let k = 0
    while (k < BINS && gapMs > (EDGES[k] ?? Infinity)) k++
    this.#counts[k] = (this.#counts[k] ?? 0) + this.#weight
    this.#gaps++
    this.#weight *= this.#growth
    if (this.#weight > 1e200) {
      for (let i = 0; i <= BINS; i++) this.#counts[i] = (this.#counts[i] ?? 0) / this.#weight
      this.#weight = 1
    }
  }

  /** Weight of the gaps longer than `ms` (linear within a bin), in units of the newest gap's weight. */
  #above (ms: number): number {
    let s = 0
    for (let k = BINS; k >= 0; k--) {
      const lo = k === 0 ? 0 : (EDGES[k - 1] ?? 0)
      const hi = k === BINS ? Infinity : (EDGES[k] ?? Infinity)
      const c = this.#counts[k] ?? 0
      if (ms <= lo) s += c
      else if (ms < hi) { s += hi === Infinity ? c : c * (hi - ms) / (hi - lo); break } else break
    }
    return s / this.#weight
  }

  /** P(gap > ms) among the recorded gaps (1 before any). */
  survival (ms: number): number {
    const all = this.#above(-1)
    return all <= 0 ? 1 : this.#above(ms) / all
  }

  /** The gap (ms) that a share `p` of the recorded gaps is at most (bisection on the survival; 0 before any). */
  quantile (p: number): number {
    if (this.#above(-1) <= 0) return 0
    let lo = 0
    let hi = EDGES[BINS - 1] ?? 0
    for (let i = 0; i < 60; i++) {
      const mid = (lo + hi) / 2
      if (1 - this.survival(mid) >= p) hi = mid
      else lo = mid
    }
    return hi
  }

  /**
   * Expected arrivals per second over (age, age + horizon], given none for `age` ms:
   * (S(age) - S(age + horizon)) / (S(age) x horizon). 0 when the recorded gaps hold less than `minWeight` gaps longer
   * than `age` (the function was never idle this long: no estimate, and no reason to pay for a warm instance).
   */
  hazard (ageMs: number, horizonMs: number, minWeight = 0.5): number {
    const s0 = this.#above(ageMs)
    if (s0 < minWeight) return 0
    const s1 = this.#above(ageMs + horizonMs)
    return (s0 - s1) / s0 / (horizonMs / 1000)
  }
}
