/** FROZEN REFERENCE, do not edit: prefetch/policies/populationPrior.ts at 341de01 (see iotlessPolicyV1.ts). */
/**
 * What the deployment knows about a function that has been invoked only once: the distribution of the *first* idle
 * time of all functions seen so far, learned online, one sample per function.
 *
 * Early in a run most long first idle times have not ended yet, so counting only completed ones would bias the prior
 * to short gaps. The estimate is therefore Kaplan-Meier: functions still waiting for their second arrival are
 * right-censored at their current idle time (they are at risk for every idle minute they have already survived).
 * Size: rangeMin+1 counters plus one counter per distinct first-arrival minute still waiting, shared by all functions.
 */
export class PopulationPriorV1 {
  /** completed[j]: functions whose first idle time was j minutes (last slot: rangeMin or more). */
  readonly #completed: Float64Array
  #completedTotal = 0
  #version = 0
  readonly #view: { minute: number; version: number; pmf: Float64Array; beyond: number; sum: number }
  readonly #censoredAt: Float64Array
  readonly #prefix: Float64Array
  /** Functions still waiting for their second arrival, by the minute of their first arrival. */
  readonly #pending = new Map<number, number>()

  /** `tailShape`: the Pareto shape of the tail used beyond what has been observed (0: none, the old behaviour). */
  constructor (readonly rangeMin: number, readonly tailShape = 0) {
    this.#completed = new Float64Array(rangeMin + 1)
    this.#view = { minute: -1, version: -1, pmf: new Float64Array(rangeMin), beyond: 1, sum: 0 }
    this.#censoredAt = new Float64Array(rangeMin + 2)
    this.#prefix = new Float64Array(rangeMin + 1)
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
   * The same without a copy: the cached pmf (read only; valid until the next call), the mass beyond rangeMin and the
   * sum of the pmf. Recomputed once per minute, and when a function arrives for the first or second time.
   */
  view (nowMinute: number): { readonly pmf: Float64Array; readonly beyond: number; readonly sum: number } {
    const c = this.#view
    if (c.minute !== nowMinute || c.version !== this.#version) {
      c.minute = nowMinute
      c.version = this.#version
      c.beyond = this.#compute(nowMinute, c.pmf)
      let sum = 0
      for (let j = 0; j < this.rangeMin; j++) sum += c.pmf[j] ?? 0
      c.sum = sum
    }
    return c
  }

  #compute (nowMinute: number, out: Float64Array): number {
    const R = this.rangeMin
    // atRisk[j] = completed with idle >= j + pending that have already survived idle minute j (elapsed > j).
    const censoredAt = this.#censoredAt // censoredAt[e]: pending with exactly e idle minutes elapsed (capped)
    censoredAt.fill(0)
    for (const [first, n] of this.#pending) {
      const elapsed = nowMinute - first - 1
      if (elapsed > 0) censoredAt[Math.min(R, elapsed)] = (censoredAt[Math.min(R, elapsed)] ?? 0) + n
    }
    let atRisk = 0
    for (let j = 0; j <= R; j++) atRisk += (this.#completed[j] ?? 0) + (censoredAt[j] ?? 0)
    let survival = 1
    const a = this.tailShape
    for (let j = 0; j < R; j++) {
      const d = this.#completed[j] ?? 0
      // Past the longest idle time anyone has been seen to survive, the data say nothing: a Pareto tail
      // (hazard a/(j+1)) instead of a hazard of 0, which would release every function once the prior runs out.
      const h = atRisk > 0.5 ? d / atRisk : Math.min(1, a / (j + 1))
      out[j] = survival * h
      survival *= 1 - h
      // the ones that arrived leave the risk set, and so do pending ones whose known survival ends here
      atRisk -= d + (censoredAt[j + 1] ?? 0)
    }
    smoothRelative(out, R, this.#prefix)
    return survival
  }
}

/**
 * Box-smooths a pmf with a window of +-floor(j/4) minutes: a first idle time of 60 minutes says little about 57 vs 63,
 * and without it every minute no function has happened to stop at would get hazard 0 (Kaplan-Meier has holes).
 */
function smoothRelative (pmf: Float64Array, n: number, prefix: Float64Array): void {
  prefix[0] = 0
  for (let j = 0; j < n; j++) prefix[j + 1] = (prefix[j] ?? 0) + (pmf[j] ?? 0)
  for (let j = 0; j < n; j++) {
    const w = Math.floor(j / 4)
    const lo = Math.max(0, j - w)
    const hi = Math.min(n, j + w + 1)
    pmf[j] = ((prefix[hi] ?? 0) - (prefix[lo] ?? 0)) / (2 * w + 1)
  }
}
