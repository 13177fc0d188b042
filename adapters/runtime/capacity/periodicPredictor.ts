import type { ArrivalForecast, Predictor } from '../../../prefetch/policies/policy.js'

export interface PeriodicPredictorOptions {
  /** Gaps between bursts remembered per function (a ring): 8. */
  historySize?: number
  /** Gaps needed before a function may be called periodic: 4. */
  minSamples?: number
  /** A gap within this share of the median gap counts as on period: 0.1. */
  tolerance?: number
  /** ... or within this many ms of it, whichever is wider (clock and network jitter): 100. */
  minJitterMs?: number
  /** Arrivals within this many ms of a burst's first are the same burst (one period's readings): 1000. */
  burstMs?: number
  /** Share of the remembered gaps that must be on period: 0.75 (one missed reading in a ring of 8 is tolerated). */
  onPeriodShare?: number
}

export interface PeriodicWindow {
  /** Earliest and latest expected start of the next burst, epoch ms. */
  fromMs: number
  toMs: number
  periodMs: number
}

interface FnState {
  burstStart: number
  gaps: Float64Array
  next: number
  size: number
}

/**
 * Finds a function's period in milliseconds, for pre-invocation (Real-time Serverless, Nguyen et al., WoSC 2019:
 * warm ahead of a known period). prefetch's policies work in whole minutes, which for a device reading once a
 * minute says only "every minute"; the phase within the minute is what pre-invocation needs. Implements prefetch's
 * Predictor contract (prefetch/policies/policy.ts), with `source: 'periodic'`.
 *
 * Per function: the gaps between the first arrivals of bursts (arrivals within burstMs of a burst's first belong to
 * it), a ring of historySize. Periodic when at least minSamples gaps are known and onPeriodShare of them lie within
 * max(minJitterMs, tolerance x median) of their median; the period is the median, the jitter the largest deviation
 * among the gaps on period. A gap of about k periods (a reading lost) counts as on period. O(historySize) per burst.
 */
export class PeriodicPredictor implements Predictor {
  readonly #fns = new Map<string, FnState>()
  readonly #history: number
  readonly #minSamples: number
  readonly #tolerance: number
  readonly #minJitterMs: number
  readonly burstMs: number
  readonly #share: number

  constructor (o: PeriodicPredictorOptions = {}) {
    this.#history = o.historySize ?? 8
    this.#minSamples = o.minSamples ?? 4
    this.#tolerance = o.tolerance ?? 0.1
    this.#minJitterMs = o.minJitterMs ?? 100
    this.burstMs = o.burstMs ?? 1000
    this.#share = o.onPeriodShare ?? 0.75
  }

  observe (fn: string, timeMs: number, count: number): void {
    if (count <= 0) return
    const s = this.#fns.get(fn)
    if (s === undefined) { this.#fns.set(fn, { burstStart: timeMs, gaps: new Float64Array(this.#history), next: 0, size: 0 }); return }
    if (timeMs - s.burstStart < this.burstMs) return
    s.gaps[s.next] = timeMs - s.burstStart
    s.next = (s.next + 1) % s.gaps.length
    if (s.size < s.gaps.length) s.size++
    s.burstStart = timeMs
  }

  /** The period and jitter, ms, when the function is periodic; undefined otherwise. */
  period (fn: string): { periodMs: number; jitterMs: number } | undefined {
    const s = this.#fns.get(fn)
    if (s === undefined || s.size < this.#minSamples) return undefined
    const gaps = Array.from(s.gaps.subarray(0, s.size)).sort((a, b) => a - b)
    // The median of the single-period gaps: a lost reading's double gap must not pull it up.
    const median = gaps[Math.floor((gaps.length - 1) / 2)] ?? 0
    if (!(median > 0)) return undefined
    const tol = Math.max(this.#minJitterMs, this.#tolerance * median)
    let on = 0
    let jitter = 0
    for (const g of gaps) {
      const k = Math.max(1, Math.round(g / median))
      const dev = Math.abs(g - k * median)
      if (k <= 3 && dev <= tol) { on++; jitter = Math.max(jitter, dev / k) }
    }
    if (on < this.#share * gaps.length) return undefined
    return { periodMs: median, jitterMs: jitter }
  }

  /** The next expected burst after `nowMs` (a period skipped without arrivals moves to the one after). */
  nextWindow (fn: string, nowMs: number): PeriodicWindow | undefined {
    const p = this.period(fn)
    const s = this.#fns.get(fn)
    if (p === undefined || s === undefined) return undefined
    let k = 1
    while (s.burstStart + k * p.periodMs + p.jitterMs < nowMs && k < 1e6) k++
    const at = s.burstStart + k * p.periodMs
    return { fromMs: at - p.jitterMs, toMs: at + p.jitterMs, periodMs: p.periodMs }
  }

  forecast (fn: string, horizonMs: number): ArrivalForecast | undefined {
    const p = this.period(fn)
    const s = this.#fns.get(fn)
    if (p === undefined || s === undefined || p.periodMs > horizonMs) return undefined
    const at = s.burstStart + p.periodMs
    return { fromMs: at - p.jitterMs, toMs: at + p.jitterMs + 1, source: 'periodic' }
  }
}
