/**
 * What the deployment knows about a function that has been invoked only once: the distribution of the *first* idle
 * time of all functions seen so far, learned online, one sample per function.
 *
 * Early in a run most long first idle times have not ended yet, so counting only completed ones would bias the prior
 * to short gaps. The estimate is therefore Kaplan-Meier: functions still waiting for their second arrival are
 * right-censored at their current idle time (they are at risk for every idle minute they have already survived).
 * Size: rangeMin+1 counters plus one counter per distinct first-arrival minute still waiting, shared by all functions.
 */
export class PopulationPrior {
  /** completed[j]: functions whose first idle time was j minutes (last slot: rangeMin or more). */
  readonly #completed: Float64Array
  #completedTotal = 0
  #version = 0
  readonly #view: { minute: number; version: number; pmf: Float64Array; weighted: Float64Array; beyond: number; sum: number }
  readonly #censoredAt: Float64Array
  readonly #prefix: Float64Array
  /** atRiskAt[j]: the risk set the last full computation used at idle minute j (0 where it was empty). */
  readonly #atRiskAt: Float64Array
  /** Functions still waiting for their second arrival, by the minute of their first arrival. */
  readonly #pending = new Map<number, number>()

  /**
   * `tailShape`: the Pareto shape of the tail used beyond what has been observed (0: none, the old behaviour).
   * `weight`: the view also holds weight x pmf (the mixture weight of its user), so a user reading it once per plan
   * need not multiply it again.
   */
  constructor (readonly rangeMin: number, readonly tailShape = 0, readonly weight = 1) {
    this.#completed = new Float64Array(rangeMin + 1)
    this.#view = { minute: -1, version: -1, pmf: new Float64Array(rangeMin), weighted: new Float64Array(rangeMin), beyond: 1, sum: 0 }
    this.#censoredAt = new Float64Array(rangeMin + 2)
    this.#prefix = new Float64Array(rangeMin + 1)
    this.#atRiskAt = new Float64Array(rangeMin)
  }

  /** Functions whose first idle time is known. */
  get functions (): number { return this.#completedTotal }

  /** A function's first arrival came in `minute`. */
  firstArrival (minute: number): void {
    this.#version++
    this.#pending.set(minute, (this.#pending.get(minute) ?? 0) + 1)
  }

  /** The function whose first arrival was in `firstMinute` came again after `idleMin` idle minutes. */
  secondArrival (firstMinute: number, idleMin: number): void {
    this.#version++
    const left = (this.#pending.get(firstMinute) ?? 0) - 1
    if (left > 0) this.#pending.set(firstMinute, left)
    else this.#pending.delete(firstMinute)
    const i = Math.min(this.rangeMin, Math.max(0, Math.floor(idleMin)))
    this.#completed[i] = (this.#completed[i] ?? 0) + 1
    this.#completedTotal++
  }

  /**
   * Kaplan-Meier probability mass of the first idle time at the start of `nowMinute`: out[j] for j < rangeMin, and
   * the mass at or beyond rangeMin in the return value. `out` must hold rangeMin numbers.
   */
  pmf (nowMinute: number, out: Float64Array): number {
    const v = this.view(nowMinute)
    out.set(v.pmf)
    return v.beyond
  }

  /**
   * The same without a copy: the cached pmf (read only; valid until the next call), the same times `weight`, the
   * mass beyond rangeMin and the sum of the pmf. Recomputed once per minute, and when a function arrives for the
   * first or second time, unless the minute alone moved and provably changed nothing (#sameSince).
   */
  view (nowMinute: number): { readonly pmf: Float64Array; readonly weighted: Float64Array; readonly beyond: number; readonly sum: number } {
    const c = this.#view
    if (c.minute !== nowMinute || c.version !== this.#version) {
      if (c.version === this.#version && c.minute >= 0 && nowMinute > c.minute && this.#sameSince(c.minute, nowMinute)) {
        c.minute = nowMinute
        return c
      }
      c.minute = nowMinute
      c.version = this.#version
      c.beyond = this.#compute(nowMinute, c.pmf, this.#prefix)
      c.sum = smoothRelative(c.pmf, this.rangeMin, this.#prefix, c.weighted, this.weight)
    }
    return c
  }

  /**
   * Whether the Kaplan-Meier hazards at `to` are exactly those at `from` (no first or second arrival in between, so
   * only waiting functions aged). A function waiting since minute f is in the risk set of idle minute j while
   * to - f - 1 > j, so from `from` to `to` it joins the risk sets of j in [from - f - 1, to - f - 1). The hazard
   * there is d(j)/atRisk(j), or the tail's where the risk set is empty; it cannot change where d(j) = 0 and the risk
   * set was already non-empty (0/atRisk = 0 before and after). The risk sets recorded at the last full computation
   * are at most those at `from` (a risk set only grows while only the minute moves), so the test is conservative.
   * Then pmf, beyond and sum are bit-identical and need not be recomputed.
   */
  #sameSince (from: number, to: number): boolean {
    const R = this.rangeMin
    const completed = this.#completed
    const atRiskAt = this.#atRiskAt
    for (const first of this.#pending.keys()) {
      const lo = Math.max(0, from - first - 1)
      const hi = Math.min(R, to - first - 1)
      for (let j = lo; j < hi; j++) {
        if ((completed[j] ?? 0) !== 0 || !((atRiskAt[j] ?? 0) > 0.5)) return false
      }
    }
    return true
  }

  /**
   * The Kaplan-Meier pmf before smoothing into `out` (rangeMin numbers) and its prefix sums into `prefix`
   * (prefix[j] = out[0] + ... + out[j-1], added in that order); returns the mass at or beyond rangeMin.
   */
  #compute (nowMinute: number, out: Float64Array, prefix: Float64Array): number {
    const R = this.rangeMin
    // atRisk[j] = completed with idle >= j + pending that have already survived idle minute j (elapsed > j).
    const censoredAt = this.#censoredAt // censoredAt[e]: pending with exactly e idle minutes elapsed (capped)
    censoredAt.fill(0)
    // Every count is a whole number far below 2^53, so the risk set is summed exactly in any order: every completed
    // one plus every pending one with at least one idle minute elapsed.
    let atRisk = this.#completedTotal
    for (const [first, n] of this.#pending) {
      const elapsed = nowMinute - first - 1
      if (elapsed > 0) {
        const e = elapsed < R ? elapsed : R
        censoredAt[e] = (censoredAt[e] ?? 0) + n
        atRisk += n
      }
    }
    const completed = this.#completed
    const atRiskAt = this.#atRiskAt
    let survival = 1
    const a = this.tailShape
    let acc = 0
    prefix[0] = 0
    let j = 0
    for (; j < R && atRisk > 0.5; j++) {
      atRiskAt[j] = atRisk
      const d = completed[j] ?? 0
      if (d === 0) {
        // hazard 0/atRisk = 0: no mass here (and acc + 0 is acc), and the survival times 1 - 0 is itself
        out[j] = 0
        prefix[j + 1] = acc
        atRisk -= censoredAt[j + 1] ?? 0
        continue
      }
      const h = d / atRisk
      const m = survival * h
      out[j] = m
      acc += m
      prefix[j + 1] = acc
      survival *= 1 - h
      // the ones that arrived leave the risk set, and so do pending ones whose known survival ends here
      atRisk -= d + (censoredAt[j + 1] ?? 0)
    }
    // Past the longest idle time anyone has been seen to survive (the risk set is empty from here on, it only
    // shrinks), the data say nothing: a Pareto tail (hazard a/(j+1)) instead of a hazard of 0, which would release
    // every function once the prior runs out.
    for (; j < R; j++) {
      atRiskAt[j] = 0
      const h = Math.min(1, a / (j + 1))
      const m = survival * h
      out[j] = m
      acc += m
      prefix[j + 1] = acc
      survival *= 1 - h
    }
    return survival
  }
}

/**
 * Box-smooths a pmf with a window of +-floor(j/4) minutes: a first idle time of 60 minutes says little about 57 vs 63,
 * and without it every minute no function has happened to stop at would get hazard 0 (Kaplan-Meier has holes).
 * `prefix` holds the pmf's prefix sums (prefix[j] = pmf[0] + ... + pmf[j-1], in that order). Also writes weight x
 * the smoothed pmf into `weighted`; returns the sum of the smoothed pmf (summed in index order).
 */
function smoothRelative (pmf: Float64Array, n: number, prefix: Float64Array, weighted: Float64Array, weight: number): number {
  let sum = 0
  for (let j = 0; j < n; j++) {
    const w = j >> 2
    const lo = j - w
    const hi = j + w + 1 < n ? j + w + 1 : n
    const v = ((prefix[hi] ?? 0) - (prefix[lo] ?? 0)) / (2 * w + 1)
    pmf[j] = v
    weighted[j] = weight * v
    sum += v
  }
  return sum
}
