import { ArForecaster } from './arForecaster.js'
import { IdleHistogram } from './idleHistogram.js'
import { MINUTE_MS, RELEASE, minuteOf, type Decision, type Policy } from './policy.js'
import { param, resolveParams, type ParamSpecs } from './policyParams.js'

/** Defaults are the paper's (Shahrad et al., ATC'20, section 4.2 and 5.2). */
export const HYBRID_PARAMS: ParamSpecs = {
  rangeMin: { default: 240, min: 1, max: 10_080, summary: 'histogram range: idle times at or beyond it are out of bounds (paper: 4 hours)' },
  binMin: { default: 1, min: 1, max: 60, integer: true, summary: 'histogram bin width in minutes (paper: 1)' },
  headPct: { default: 5, min: 0, max: 100, summary: 'pre-warm at this percentile of idle times (paper: 5th)' },
  tailPct: { default: 99, min: 0, max: 100, summary: 'keep alive until this percentile of idle times (paper: 99th)' },
  marginPct: { default: 10, min: 0, max: 100, summary: 'head shrinks and tail grows by this percentage (paper: 10%)' },
  cvThreshold: { default: 2, min: 0, max: 1000, summary: 'histogram is representative only when the CV of its bin counts is at least this (paper: 2)' },
  minSamples: { default: 1, min: 0, max: 100_000, integer: true, summary: 'idle times needed before the histogram is used at all' },
  oobThresholdPct: { default: 50, min: 0, max: 100, summary: 'share of out-of-bounds idle times from which the time-series forecast takes over' },
  arimaMarginPct: { default: 15, min: 0, max: 100, summary: 'forecast window: pre-warm at forecast minus this %, keep alive to forecast plus this % (paper: 15%)' },
  fallbackKeepAliveMin: { default: 240, min: 0, max: 10_080, summary: 'standard keep-alive when the pattern is not representative (paper: the histogram range)' }
}

export type HybridMode = 'none' | 'fallback' | 'histogram' | 'timeseries'

interface FnState {
  lastMinute: number
  hist: IdleHistogram
  ar: ArForecaster
  decision: Decision
  mode: HybridMode
}

/**
 * The hybrid histogram policy of "Serverless in the Wild" (Shahrad et al., USENIX ATC 2020, section 4.2), per
 * function. After each arrival minute it records the idle time (whole idle minutes since the previous arrival
 * minute) and, from the end of that arrival minute:
 * 1. out-of-bounds share >= oobThresholdPct: time-series forecast F of the next idle time (AR stand-in for ARIMA);
 *    pre-warm at F*(1-arimaMargin), keep alive until F*(1+arimaMargin);
 * 2. fewer than minSamples idle times, or CV of the bin counts below cvThreshold: standard keep-alive
 *    (no pre-warm, keep alive fallbackKeepAliveMin);
 * 3. otherwise the histogram: pre-warm at head*(1-margin), keep alive until tail*(1+margin), where head is the
 *    lower edge of the bin holding the headPct percentile and tail the upper edge of the bin holding tailPct.
 *    A pre-warm time of 0 means the instance is not unloaded after the arrival.
 */
export class HybridPolicy implements Policy {
  readonly name: string = 'hybrid'
  readonly params: Readonly<Record<string, number>>
  readonly #fns = new Map<string, FnState>()
  readonly #p: Record<string, number>

  constructor (given: Readonly<Record<string, number | string>> = {}) {
    this.params = Object.freeze(resolveParams(this.name, HYBRID_PARAMS, given))
    this.#p = { ...this.params }
  }

  observe (fn: string, timeMs: number, count: number): void {
    if (count <= 0) return
    const m = minuteOf(timeMs)
    let s = this.#fns.get(fn)
    if (s === undefined) {
      s = {
        lastMinute: m,
        hist: new IdleHistogram(param(this.#p, 'rangeMin'), param(this.#p, 'binMin')),
        ar: new ArForecaster(),
        decision: RELEASE,
        mode: 'none'
      }
      this.#fns.set(fn, s)
    } else if (m > s.lastMinute) {
      const idleMin = m - s.lastMinute - 1
      s.hist.add(idleMin)
      s.ar.push(idleMin)
      s.lastMinute = m
    } else {
      return // same minute (or late report): nothing new
    }
    this.#plan(s)
  }

  decide (fn: string, _nowMs: number): Decision {
    return this.#fns.get(fn)?.decision ?? RELEASE
  }

  /** Which rule made the current decision for `fn` (for tests and reports). */
  mode (fn: string): HybridMode { return this.#fns.get(fn)?.mode ?? 'none' }

  stateBytes (fn: string): number {
    const s = this.#fns.get(fn)
    return s === undefined ? 0 : s.hist.bytes + s.ar.bytes + 4 * 8
  }

  #plan (s: FnState): void {
    const p = this.#p
    const endMs = (s.lastMinute + 1) * MINUTE_MS
    const h = s.hist
    const total = h.total
    if (total > 0 && total >= param(p, 'minSamples') && (h.outOfBounds / total) * 100 >= param(p, 'oobThresholdPct') && h.outOfBounds > 0) {
      const f = s.ar.forecast() ?? param(p, 'rangeMin')
      const margin = param(p, 'arimaMarginPct') / 100
      s.mode = 'timeseries'
      s.decision = { prewarmAt: endMs + f * (1 - margin) * MINUTE_MS, keepAliveUntil: endMs + f * (1 + margin) * MINUTE_MS, instances: 1 }
      return
    }
    if (total === 0 || total < param(p, 'minSamples') || h.inRange === 0 || h.cv < param(p, 'cvThreshold')) {
      s.mode = 'fallback'
      s.decision = { prewarmAt: s.lastMinute * MINUTE_MS, keepAliveUntil: endMs + param(p, 'fallbackKeepAliveMin') * MINUTE_MS, instances: 1 }
      return
    }
    const margin = param(p, 'marginPct') / 100
    const head = h.quantileBin(Math.max(param(p, 'headPct'), 1e-9) / 100) * h.binMin
    const tail = (h.quantileBin(param(p, 'tailPct') / 100) + 1) * h.binMin
    const prewarmMin = head * (1 - margin)
    s.mode = 'histogram'
    s.decision = {
      prewarmAt: prewarmMin <= 0 ? s.lastMinute * MINUTE_MS : endMs + prewarmMin * MINUTE_MS,
      keepAliveUntil: endMs + tail * (1 + margin) * MINUTE_MS,
      instances: 1
    }
  }
}
