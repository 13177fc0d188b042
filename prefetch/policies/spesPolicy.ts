import { RELEASE, minuteOf, type Decision, type Policy } from './policy.js'
import { param, resolveParams, type ParamSpecs } from './policyParams.js'
import { IntervalPlan } from './intervalPlan.js'

/**
 * SPES (Lee et al., "SPES: Towards Optimizing Performance-Resource Trade-Off for Serverless Functions",
 * arXiv 2403.17574, ICDE 2024) sorts functions by invocation pattern and gives each category its own pre-load and
 * unload rule. The categories are the paper's; the thresholds below are ours (docs/prefetch.md lists every choice).
 */
export const SPES_PARAMS: ParamSpecs = {
  historySize: { default: 16, min: 3, max: 1024, integer: true, summary: 'idle times remembered per function (a ring); categories are judged on these' },
  minSamples: { default: 3, min: 1, max: 1000, integer: true, summary: 'idle times needed before a deterministic category (regular, appro-regular, dense, ...) is tried' },
  warmShare: { default: 0.9, min: 0, max: 1, summary: 'always warm: at least this share of idle times are 0 (invoked minute after minute)' },
  approTolMin: { default: 2, min: 0, max: 1440, summary: 'appro-regular: all idle times within this many minutes of each other (or approTolPct of their median)' },
  approTolPct: { default: 10, min: 0, max: 100, summary: 'appro-regular: relative tolerance, % of the median idle time' },
  denseMaxMin: { default: 10, min: 0, max: 1440, summary: 'dense: the 90th percentile of idle times is at most this; kept alive across them' },
  successiveShare: { default: 0.5, min: 0, max: 1, summary: 'successive: at least this share of idle times are 0 (bursts of back-to-back minutes) and the rest long' },
  pulsedKeepAliveMin: { default: 10, min: 0, max: 1440, summary: 'pulsed (irregular bursts): keep alive this long after an arrival' },
  possibleMarginMin: { default: 1, min: 0, max: 60, integer: true, summary: 'possible (infrequent, irregular): pre-load this many minutes around every idle time seen before' },
  newKeepAliveMin: { default: 10, min: 0, max: 1440, summary: 'a function with fewer than minSamples idle times: keep alive this long (platform default)' }
}

export type SpesCategory = 'unknown' | 'new' | 'warm' | 'regular' | 'appro-regular' | 'dense' | 'successive' | 'pulsed' | 'possible'
const CATEGORIES: readonly SpesCategory[] = ['unknown', 'new', 'warm', 'regular', 'appro-regular', 'dense', 'successive', 'pulsed', 'possible']

interface FnState {
  lastMinute: number
  idle: Uint16Array
  next: number
  size: number
  category: number
  plan: IntervalPlan
}

let sorted = new Uint16Array(1024)

/**
 * Per function, after each arrival minute, the category from its last idle times (re-judged every time, which is
 * how concept drift is followed online) and the warm windows it implies, in idle minutes after the arrival minute:
 * - new (fewer than minSamples idle times): keep alive newKeepAliveMin;
 * - warm (>= warmShare of idle times are 0): keep alive across the longest idle time seen;
 * - regular (all idle times equal, v): pre-load for idle minute v only, unload after it;
 * - appro-regular (all within approTolMin or approTolPct of the median): pre-load at the smallest, unload after the largest;
 * - dense (90th percentile <= denseMaxMin): keep alive across the 90th percentile;
 * - successive (>= successiveShare are 0, the rest > denseMaxMin): keep one idle minute (the burst goes on), then
 *   pre-load for the gap between bursts if those gaps are appro-regular;
 * - pulsed (some 0s but none of the above): keep alive pulsedKeepAliveMin;
 * - possible (the rest: infrequent, irregular): pre-load +-possibleMarginMin around each idle time seen.
 * The paper's "correlated" category (predicted from co-occurring functions) is not implemented.
 */
export class SpesPolicy implements Policy {
  readonly name = 'spes'
  readonly params: Readonly<Record<string, number>>
  readonly #fns = new Map<string, FnState>()
  readonly #p: Record<string, number>

  constructor (given: Readonly<Record<string, number | string>> = {}) {
    this.params = Object.freeze(resolveParams(this.name, SPES_PARAMS, given))
    this.#p = { ...this.params }
  }

  observe (fn: string, timeMs: number, count: number): void {
    if (count <= 0) return
    const m = minuteOf(timeMs)
    let s = this.#fns.get(fn)
    if (s === undefined) {
      s = { lastMinute: m, idle: new Uint16Array(param(this.#p, 'historySize')), next: 0, size: 0, category: 0, plan: new IntervalPlan() }
      this.#fns.set(fn, s)
    } else if (m > s.lastMinute) {
      s.idle[s.next] = Math.min(65_535, m - s.lastMinute - 1)
      s.next = (s.next + 1) % s.idle.length
      if (s.size < s.idle.length) s.size++
      s.lastMinute = m
    } else {
      return
    }
    this.#categorize(s)
  }

  decide (fn: string, nowMs: number): Decision {
    const s = this.#fns.get(fn)
    if (s === undefined) return RELEASE
    return s.plan.decision(s.lastMinute, minuteOf(nowMs))
  }

  category (fn: string): SpesCategory { return CATEGORIES[this.#fns.get(fn)?.category ?? 0] ?? 'unknown' }

  plan (fn: string): Array<[number, number]> { return this.#fns.get(fn)?.plan.intervals() ?? [] }

  stateBytes (fn: string): number {
    const s = this.#fns.get(fn)
    return s === undefined ? 0 : s.idle.byteLength + s.plan.bytes + 4 * 8
  }

  #categorize (s: FnState): void {
    const p = this.#p
    const n = s.size
    const plan = s.plan
    plan.clear()
    if (n < param(p, 'minSamples')) {
      s.category = CATEGORIES.indexOf('new')
      const k = Math.ceil(param(p, 'newKeepAliveMin'))
      if (k > 0) plan.add(0, k)
      return
    }
    if (sorted.length < n) sorted = new Uint16Array(n * 2)
    const v = sorted.subarray(0, n)
    v.set(s.idle.subarray(0, n))
    v.sort()
    const lo = v[0] ?? 0
    const hi = v[n - 1] ?? 0
    let zeros = 0
    while (zeros < n && v[zeros] === 0) zeros++
    const median = v[Math.floor((n - 1) / 2)] ?? 0
    const p90 = v[Math.min(n - 1, Math.ceil(0.9 * n) - 1)] ?? 0
    const tol = Math.max(param(p, 'approTolMin'), (param(p, 'approTolPct') / 100) * median)
    const dense = param(p, 'denseMaxMin')
    const set = (c: SpesCategory): void => { s.category = CATEGORIES.indexOf(c) }
    if (zeros / n >= param(p, 'warmShare')) {
      set('warm'); plan.add(0, hi + 1); return
    }
    if (hi === lo) {
      set('regular'); plan.add(lo, lo + 1); return
    }
    if (hi - lo <= tol) {
      set('appro-regular'); plan.add(lo, hi + 1); return
    }
    if (p90 <= dense) {
      set('dense'); plan.add(0, p90 + 1); return
    }
    if (zeros / n >= param(p, 'successiveShare') && (v[zeros] ?? 0) > dense) {
      set('successive')
      plan.add(0, 1)
      const gLo = v[zeros] ?? 0
      const gMed = v[zeros + Math.floor((n - zeros - 1) / 2)] ?? 0
      if (hi - gLo <= Math.max(param(p, 'approTolMin'), (param(p, 'approTolPct') / 100) * gMed)) plan.add(gLo, hi + 1)
      return
    }
    if (zeros > 0) {
      set('pulsed')
      const k = Math.ceil(param(p, 'pulsedKeepAliveMin'))
      if (k > 0) plan.add(0, k)
      return
    }
    set('possible')
    const margin = param(p, 'possibleMarginMin')
    for (let i = 0; i < n; i++) {
      const x = v[i] ?? 0
      if (i > 0 && x === v[i - 1]) continue
      plan.add(Math.max(0, x - margin), x + margin + 1)
    }
  }
}
