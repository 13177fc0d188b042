import { RELEASE, minuteOf, type Decision, type FunctionInfo, type Policy } from './policy.js'
import { param, resolveParams, type ParamSpecs } from './policyParams.js'
import { IntervalPlan } from './intervalPlan.js'

/**
 * SPES (Lee et al., "SPES: Towards Optimizing Performance-Resource Trade-Off for Serverless Functions",
 * arXiv 2403.17574, ICDE 2024) sorts functions by invocation pattern and gives each category its own pre-load and
 * unload rule. The run-time rules (unload after `GIVE_UP` idle minutes per category, pre-load within `PRE_WARM`
 * minutes of a predicted arrival, the predicted idle times per category, correlated pre-load from functions of the
 * same owner and trigger) and their constants follow the authors' simulation code as published (read, not copied);
 * the category tests themselves were not in the code we could read, so those thresholds are ours
 * (docs/prefetch.md lists every choice).
 */
export const SPES_PARAMS: ParamSpecs = {
  historySize: { default: 16, min: 3, max: 1024, integer: true, summary: 'idle times remembered per function (a ring); categories are judged on these' },
  minSamples: { default: 3, min: 1, max: 1000, integer: true, summary: 'invocation sequences (runs of back-to-back arrival minutes) needed before a deterministic category is tried (SEQ_NUM_BOUND)' },
  warmShare: { default: 0.9, min: 0, max: 1, summary: 'always warm: at least this share of idle times are 0 (ours)' },
  modeShare: { default: 0.9, min: 0, max: 1, summary: 'appro-regular: the idleModes most frequent idle times cover at least this share (IDLE_PERCEN)' },
  idleModes: { default: 3, min: 1, max: 8, integer: true, summary: 'appro-regular: most frequent idle times used as predictions, each over 10 % of the samples (IDLE_NUM_MAX)' },
  regularStdMin: { default: 1, min: 0, max: 1440, summary: 'regular: standard deviation of the idle times at most this many minutes (ours)' },
  denseMaxMin: { default: 5, min: 0, max: 1440, summary: 'dense: the 90th percentile of idle times is at most this (DENSE_UPPER_BOUND, DENSE_PERCEN); also its unload time' },
  successiveShare: { default: 0.5, min: 0, max: 1, summary: 'successive: at least this share of idle times are 0 (bursts of back-to-back minutes) (ours)' },
  preWarmMin: { default: 2, min: 0, max: 60, integer: true, summary: 'pre-load this many minutes before a predicted arrival and keep it this many after (PRE_WARM)' },
  pulsedKeepAliveMin: { default: 3, min: 0, max: 1440, summary: 'pulsed: unload after this many idle minutes (PLUSED_GIVEUP)' },
  newKeepAliveMin: { default: 1, min: 0, max: 1440, summary: 'new, unknown, possible, regular, successive: unload after this many idle minutes (POSS_GIVEUP, GIVE_UP 1)' },
  correlatedMin: { default: 4, min: 0, max: 60, integer: true, summary: 'correlated: a new/unknown function is held this many minutes after a function of the same owner and trigger is invoked (0: off)' }
}

export type SpesCategory = 'unknown' | 'new' | 'warm' | 'regular' | 'appro-regular' | 'dense' | 'successive' | 'pulsed' | 'possible'
const CATEGORIES: readonly SpesCategory[] = ['unknown', 'new', 'warm', 'regular', 'appro-regular', 'dense', 'successive', 'pulsed', 'possible']
const NEW = 1
const UNKNOWN = 0

/** The last two arrival minutes among the functions of one owner and trigger, and whose they were. */
interface Group { m1: number; f1: FnState | undefined; m2: number; f2: FnState | undefined }

interface FnState {
  lastMinute: number
  idle: Uint16Array
  next: number
  size: number
  category: number
  plan: IntervalPlan
  group: Group | undefined
}

let sorted = new Uint16Array(1024)
const modeValues = new Int32Array(8)
const modeCounts = new Int32Array(8)

/** Owner (the first part of an Azure id `owner/app/function`) and trigger; undefined when the id has no owner. */
function groupKey (fn: string, trigger: string | undefined): string | undefined {
  const slash = fn.indexOf('/')
  return slash <= 0 ? undefined : `${fn.slice(0, slash)}|${trigger ?? ''}`
}

/**
 * Per function, after each arrival minute, the category from its last idle times (re-judged every time, which is
 * how the paper's adaptive update is followed online) and the warm windows it implies, in idle minutes after the
 * arrival minute. Every category first keeps the instance `GIVE_UP` idle minutes (warm: always; dense:
 * denseMaxMin; pulsed: pulsedKeepAliveMin; the rest: newKeepAliveMin), then pre-loads around its predictions:
 * - regular: the median idle time m, +-min(std, 2); a missed arrival gets one more period;
 * - appro-regular: each of the idleModes most frequent idle times (over 10 % of samples each);
 * - dense: from the smallest to min(10, the largest) of the repeated idle times;
 * - possible (idle times repeat, none of the above): the repeated idle times, as one range when they lie within
 *   10 minutes of each other, else one by one;
 * - successive, pulsed, unknown: no prediction.
 * A prediction p is held in idle minutes [p - preWarmMin + 1, p + preWarmMin + 1] (the authors' test
 * `left <= i + PRE_WARM and right >= i - PRE_WARM`, made each idle minute, loads for the next one).
 * Correlated: a new or unknown function is also held correlatedMin minutes after any other function of its owner and
 * trigger is invoked (the authors' rule for functions without training history).
 */
export class SpesPolicy implements Policy {
  readonly name = 'spes'
  readonly params: Readonly<Record<string, number>>
  readonly #fns = new Map<string, FnState>()
  readonly #groups = new Map<string, Group>()
  readonly #info = new Map<string, FunctionInfo>()
  readonly #p: Record<string, number>

  constructor (given: Readonly<Record<string, number | string>> = {}) {
    this.params = Object.freeze(resolveParams(this.name, SPES_PARAMS, given))
    this.#p = { ...this.params }
  }

  register (fn: string, info: FunctionInfo): void { this.#info.set(fn, info) }

  #state (fn: string, m: number): FnState {
    let s = this.#fns.get(fn)
    if (s === undefined) {
      const key = param(this.#p, 'correlatedMin') > 0 ? groupKey(fn, this.#info.get(fn)?.trigger) : undefined
      let group: Group | undefined
      if (key !== undefined) {
        group = this.#groups.get(key)
        if (group === undefined) { group = { m1: -1, f1: undefined, m2: -1, f2: undefined }; this.#groups.set(key, group) }
      }
      s = { lastMinute: m, idle: new Uint16Array(param(this.#p, 'historySize')), next: 0, size: 0, category: NEW, plan: new IntervalPlan(), group }
      this.#fns.set(fn, s)
      this.#categorize(s)
    }
    return s
  }

  observe (fn: string, timeMs: number, count: number): void {
    if (count <= 0) return
    const m = minuteOf(timeMs)
    const known = this.#fns.has(fn)
    const s = this.#state(fn, m)
    if (known) {
      if (m <= s.lastMinute) return
      s.idle[s.next] = Math.min(65_535, m - s.lastMinute - 1)
      s.next = (s.next + 1) % s.idle.length
      if (s.size < s.idle.length) s.size++
      s.lastMinute = m
      this.#categorize(s)
    }
    const g = s.group
    if (g !== undefined) {
      if (g.f1 === s) {
        g.m1 = Math.max(g.m1, m)
      } else if (m >= g.m1) {
        g.m2 = g.m1; g.f2 = g.f1; g.m1 = m; g.f1 = s
      } else if (g.f2 === s || m > g.m2) {
        g.m2 = Math.max(m, g.f2 === s ? g.m2 : m); g.f2 = s
      }
    }
  }

  decide (fn: string, nowMs: number): Decision {
    const s = this.#fns.get(fn)
    if (s === undefined) return RELEASE
    const now = minuteOf(nowMs)
    const d = s.plan.decision(s.lastMinute, now)
    const g = s.group
    if (g !== undefined && (s.category === NEW || s.category === UNKNOWN)) {
      // The last arrival of another function of the same owner and trigger.
      const other = g.f1 === s ? g.m2 : g.m1
      const until = other + 1 + param(this.#p, 'correlatedMin')
      if (other >= 0 && other < now && now < until && !(d.prewarmAt <= nowMs && nowMs < d.keepAliveUntil)) {
        return { prewarmAt: nowMs, keepAliveUntil: until * 60_000, instances: 1 }
      }
    }
    return d
  }

  category (fn: string): SpesCategory { return CATEGORIES[this.#fns.get(fn)?.category ?? 0] ?? 'unknown' }

  plan (fn: string): Array<[number, number]> { return this.#fns.get(fn)?.plan.intervals() ?? [] }

  stateBytes (fn: string): number {
    const s = this.#fns.get(fn)
    return s === undefined ? 0 : s.idle.byteLength + s.plan.bytes + 5 * 8
  }

  #categorize (s: FnState): void {
    const p = this.#p
    const n = s.size
    const plan = s.plan
    plan.clear()
    const set = (c: SpesCategory): void => { s.category = CATEGORIES.indexOf(c) }
    const giveUp = (k: number): void => { const g = Math.ceil(k); if (g > 0) plan.add(0, g) }
    const pw = param(p, 'preWarmMin')
    /** A predicted idle range [a, b], held from a - pw + 1 to b + pw inclusive. */
    const predict = (a: number, b: number): void => { plan.add(Math.max(0, a - pw + 1), b + pw + 2) }
    if (sorted.length < n) sorted = new Uint16Array(n * 2)
    const v = sorted.subarray(0, n)
    v.set(s.idle.subarray(0, n))
    v.sort()
    let zeros = 0
    while (zeros < n && v[zeros] === 0) zeros++
    const gaps = n - zeros // idle times between invocation sequences (the authors count only these)
    if (n > 0 && zeros / n >= param(p, 'warmShare')) { set('warm'); plan.add(0, 10_080 * 2); return }
    if (gaps + 1 < param(p, 'minSamples')) {
      set(n === 0 ? 'new' : 'unknown')
      if (zeros > 0) { set('pulsed'); giveUp(param(p, 'pulsedKeepAliveMin')); return }
      giveUp(param(p, 'newKeepAliveMin'))
      return
    }
    const g = v.subarray(zeros)
    let mean = 0
    for (const x of g) mean += x
    mean /= gaps
    let varSum = 0
    for (const x of g) varSum += (x - mean) * (x - mean)
    const std = Math.sqrt(varSum / gaps)
    const median = g[Math.floor((gaps - 1) / 2)] ?? 0
    // Distinct idle times by how often they occur (up to 8, most frequent first; ties: the shorter first).
    let modes = 0
    for (let i = 0; i < gaps;) {
      let j = i
      while (j < gaps && g[j] === g[i]) j++
      const c = j - i
      let k = Math.min(modes, modeValues.length - 1)
      if (modes < modeValues.length) modes++
      else if ((modeCounts[k] ?? 0) >= c) { i = j; continue }
      while (k > 0 && (modeCounts[k - 1] ?? 0) < c) { modeValues[k] = modeValues[k - 1] ?? 0; modeCounts[k] = modeCounts[k - 1] ?? 0; k-- }
      modeValues[k] = g[i] ?? 0
      modeCounts[k] = c
      i = j
    }
    const top = Math.min(modes, param(p, 'idleModes'))
    // Only idle times seen more than once count as modes (ours: with the few samples of an online run, any two or
    // three distinct idle times would otherwise "cover" all of them).
    let covered = 0
    for (let k = 0; k < top; k++) if ((modeCounts[k] ?? 0) > 1) covered += modeCounts[k] ?? 0
    const p90 = g[Math.min(gaps - 1, Math.ceil(0.9 * gaps) - 1)] ?? 0
    const denseMax = param(p, 'denseMaxMin')
    if (std <= param(p, 'regularStdMin')) {
      set('regular')
      giveUp(param(p, 'newKeepAliveMin'))
      const e = Math.min(std, 2)
      const lo = Math.max(0, Math.floor(median - e))
      const hi = Math.ceil(median + e)
      predict(lo, hi)
      predict(lo + median + 1, hi + median + 1) // the authors allow one missing hit
      return
    }
    if (covered >= param(p, 'modeShare') * gaps) {
      set('appro-regular')
      giveUp(param(p, 'newKeepAliveMin'))
      const picks: number[] = []
      for (let k = 0; k < top; k++) if ((modeCounts[k] ?? 0) > 1 && (modeCounts[k] ?? 0) > 0.1 * gaps) picks.push(modeValues[k] ?? 0)
      picks.sort((a, b) => a - b)
      for (const x of picks) predict(x, x)
      return
    }
    // Repeated idle times (occurring more than once), at most 5: the authors' "modes".
    let repeated = 0
    while (repeated < Math.min(5, modes) && (modeCounts[repeated] ?? 0) > 1) repeated++
    let rLo = Infinity
    let rHi = -1
    for (let k = 0; k < repeated; k++) { rLo = Math.min(rLo, modeValues[k] ?? 0); rHi = Math.max(rHi, modeValues[k] ?? 0) }
    if (p90 <= denseMax) {
      set('dense')
      giveUp(denseMax)
      if (repeated > 0) predict(rLo, Math.min(10, rHi))
      else predict(g[0] ?? 0, Math.min(param(p, 'idleModes'), g[gaps - 1] ?? 0))
      return
    }
    if (zeros / n >= param(p, 'successiveShare')) { set('successive'); giveUp(param(p, 'newKeepAliveMin')); return }
    if (repeated > 0) {
      set('possible')
      giveUp(param(p, 'newKeepAliveMin'))
      if (rHi - rLo <= 10) { predict(rLo, rHi); return }
      const picks: number[] = []
      for (let k = 0; k < repeated; k++) picks.push(modeValues[k] ?? 0)
      picks.sort((a, b) => a - b)
      for (const x of picks) predict(x, x)
      return
    }
    if (zeros > 0) { set('pulsed'); giveUp(param(p, 'pulsedKeepAliveMin')); return }
    set('unknown')
    giveUp(param(p, 'newKeepAliveMin'))
  }
}
