import { MINUTE_MS, RELEASE, minuteOf, type Decision, type FunctionInfo, type Policy } from './policy.js'
import { param, resolveParams, type ParamSpecs } from './policyParams.js'
import { PopulationPrior } from './populationPrior.js'

export const IOTLESS_PARAMS: ParamSpecs = {
  hazardThreshold: { default: 0.003, min: 0, max: 1, summary: 'price of one idle instance-minute in expected cold starts per invocation so far: an idle minute is held when hazard >= this x invocations so far (clamped)' },
  maxThreshold: { default: 0.1, min: 0, max: 1, summary: 'upper clamp of the per-function hazard threshold, so busy functions still bridge likely gaps' },
  minThreshold: { default: 0.005, min: 0, max: 1, summary: 'lower clamp of the per-function hazard threshold' },
  historySize: { default: 32, min: 2, max: 1024, integer: true, summary: 'idle times remembered per function (a ring)' },
  priorWeight: { default: 0.5, min: 0, max: 1000, summary: 'pseudo-samples of the population prior mixed into each function\'s idle-time distribution' },
  jitterWeight: { default: 0.5, min: 0, max: 1, summary: 'share of a sample spread to the neighbouring minutes while few samples are known (minute-binning jitter)' },
  jitterSamples: { default: 4, min: 0, max: 1000, summary: 'samples after which the jitter spread has halved' },
  memoryExponent: { default: 0, min: 0, max: 2, summary: 'threshold scales with (memoryMb/128)^this, so big functions are held only for likelier arrivals' },
  defaultKeepAliveMin: { default: 10, min: 0, max: 1440, summary: 'keep-alive for a function with no history while the population prior is still empty' },
  priorMinFunctions: { default: 10, min: 0, max: 100_000, integer: true, summary: 'functions of the same trigger whose first idle time must be known before that prior is used' },
  priorRangeMin: { default: 240, min: 1, max: 10_080, integer: true, summary: 'idle minutes the population prior resolves; longer first idle times share one bucket' },
  priorTailShape: { default: 1, min: 0, max: 10, summary: 'beyond the longest first idle time observed so far and beyond priorRangeMin, the prior has a Pareto tail with hazard this/(j+1) (0: hazard 0 there, released)' },
  memoryBudgetMb: { default: 0, min: 0, max: 1e9, summary: 'online budget for memory held idle (held in a minute without arrivals), on a 30-minute average (0: off): while it is over, the price of an idle minute rises 25 % a minute; below 80 % of it, it falls back 10 % a minute (never below 1)' },
  refreshMin: { default: 10, min: 1, max: 1440, integer: true, summary: 'a function with few samples re-plans this often, as the prior learns' },
  slackThreshold: { default: 0.2, min: 0, max: 1, summary: 'a function that can take one more cold start and stay at or under the first-call floor (estimated online, see targetPercentile) is held only where the hazard is at least this (0: off)' },
  tailPseudoCount: { default: 0.5, min: 0, max: 100, summary: 'pseudo-samples of an idle time longer than every one in the ring, spread past the longest with the Pareto hazard priorTailShape/(j+1), so a gap never seen keeps a chance (1: the rule of succession, 1/(n+1); 0: off, hazard 0 past the longest)' },
  targetPercentile: { default: 75, min: 1, max: 100, summary: 'the percentile of function cold-start shares the slack rule aims at: its target is the online first-call floor at this percentile (100 / invocations so far)' }
}

interface FnState {
  lastMinute: number
  firstMinute: number
  plannedAt: number
  prior: PopulationPrior
  /** Ring of the last idle times in whole minutes (capped at 65535). */
  idle: Uint16Array
  next: number
  size: number
  /** Warm intervals [start, end) in idle minutes after the last arrival minute, ascending; -1 terminated. */
  plan: Int32Array
  memoryFactor: number
  memoryMb: number
  invocations: number
  /** The budget price this plan was made at. */
  price: number
  /** The last minute the decision held an instance (budget accounting, cold-start count). */
  heldMinute: number
  /** Arrival minutes that found no instance held (this policy's own count of its cold starts). */
  coldStarts: number
}

const MAX_PLAN_INTERVALS = 8
/** The analytic tail never holds an instance longer than a week of idle minutes. */
const MAX_TAIL_MIN = 10_080
/** Minutes over which the idle memory held is averaged against memoryBudgetMb. */
const BUDGET_WINDOW_MIN = 30
let scratch = new Float64Array(1024)
/** recip[j] = 1/(j+1), grown on demand: the own tail's hazard a/(j+1) without a division per idle minute. */
let recip = new Float64Array(0)
/** recipStep[j] = recip[j-1] - recip[j] (j >= 1), the closed-form own tail's mass at idle minute j per unit of w*T0. */
let recipStep = new Float64Array(0)
/** The own tail's mass per idle minute when it is made by the recurrence (priorTailShape != 1). */
let tailScratch = new Float64Array(0)
/** Zeros, never written: stands in for a term a segment of the scan does not have. */
let zeros = new Float64Array(0)
function zerosFor (n: number): Float64Array {
  if (zeros.length < n) zeros = new Float64Array(Math.max(n, 2 * zeros.length, 512))
  return zeros
}
function reciprocals (n: number): Float64Array {
  if (recip.length < n) {
    recip = new Float64Array(Math.max(n, 2 * recip.length, 512))
    for (let j = 0; j < recip.length; j++) recip[j] = 1 / (j + 1)
    recipStep = new Float64Array(recip.length)
    for (let j = 1; j < recip.length; j++) recipStep[j] = (recip[j - 1] ?? 0) - (recip[j] ?? 0)
  }
  return recip
}

/**
 * The k-th smallest (0-based) of a[0..n), by Hoare's FIND (Wirth's form, median-of-three pivot): O(n) on average,
 * equal values split evenly. Reorders a[0..n). The same value a full sort would put at index k.
 */
function kthSmallest (a: Float64Array, n: number, k: number): number {
  let l = 0
  let r = n - 1
  while (l < r) {
    const p = a[l] ?? 0
    const q = a[k] ?? 0
    const u = a[r] ?? 0
    const x = p < q ? (q < u ? q : (p < u ? u : p)) : (p < u ? p : (q < u ? u : q))
    let i = l
    let j = r
    do {
      while ((a[i] ?? 0) < x) i++
      while (x < (a[j] ?? 0)) j--
      if (i <= j) {
        const t = a[i] ?? 0
        a[i] = a[j] ?? 0
        a[j] = t
        i++
        j--
      }
    } while (i <= j)
    if (j < k) l = i
    if (k < i) r = j
  }
  return a[k] ?? 0
}

/**
 * iotless: per function, the empirical distribution of its idle times (whole idle minutes between arrival minutes),
 * and, each minute, the hazard h(j) = P(next arrival after exactly j idle minutes | not before). An instance is held
 * in idle minute j only when h(j) >= hazardThreshold. This is the per-minute rule that trades one minute of memory
 * against h(j) expected cold starts at a common price, so it:
 * - finds a function's rhythm without being told: a timer every P minutes puts all its mass on P-1 idle minutes, so
 *   the instance is loaded just in time for that minute and released at once after it (minute-binning jitter that
 *   has actually been seen keeps its neighbours warm too);
 * - for irregular functions it holds the instance only in the minutes where arrivals are likely, which may be several
 *   separate windows (a multi-modal histogram), not one window from the 5th to the 99th percentile;
 * - never needs a range or a separate forecaster: idle times of any length are just samples; once the idle time
 *   passes every sample the hazard is zero and the instance is released;
 * - with few samples, mixes in a population prior (the first idle times of all functions seen so far, learned online)
 *   and spreads each sample over +-1 minute until the jitter is known.
 */
export class IotlessPolicy implements Policy {
  readonly name = 'iotless'
  readonly params: Readonly<Record<string, number>>
  readonly #fns = new Map<string, FnState>()
  /** The same states in order of first arrival, for the once-a-minute floor. */
  readonly #states: FnState[] = []
  /** One prior per trigger kind (timer, http, ...), so a timer's first gap is judged by other timers. */
  readonly #priors = new Map<string, PopulationPrior>()
  readonly #info = new Map<string, FunctionInfo>()
  readonly #p: Record<string, number>
  readonly #budgetMb: number
  // The parameters read on every step, resolved once.
  readonly #hazardTh: number
  readonly #maxTh: number
  readonly #minTh: number
  readonly #slackTh: number
  readonly #priorWeight: number
  readonly #priorMinFns: number
  readonly #defaultKeepAliveMin: number
  readonly #jitterWeight: number
  readonly #jitterSamples: number
  readonly #tailShape: number
  readonly #tailPseudo: number
  readonly #refreshMin: number
  readonly #targetShare: number
  /** Budget price: multiplies every threshold; 1 unless memoryBudgetMb is set and exceeded. */
  #price = 1
  #priceMinute = -1
  #heldMb = 0
  #heldAvgMb = 0
  /** The online first-call floor (share, 0..1) at targetPercentile, recomputed once a minute. */
  #floorShare = 1
  #floorMinute = -1
  #floorScratch = new Float64Array(64)

  constructor (given: Readonly<Record<string, number | string>> = {}) {
    this.params = Object.freeze(resolveParams(this.name, IOTLESS_PARAMS, given))
    this.#p = { ...this.params }
    this.#budgetMb = param(this.#p, 'memoryBudgetMb')
    this.#hazardTh = param(this.#p, 'hazardThreshold')
    this.#maxTh = param(this.#p, 'maxThreshold')
    this.#minTh = param(this.#p, 'minThreshold')
    this.#slackTh = param(this.#p, 'slackThreshold')
    this.#priorWeight = param(this.#p, 'priorWeight')
    this.#priorMinFns = Math.max(1, param(this.#p, 'priorMinFunctions'))
    this.#defaultKeepAliveMin = param(this.#p, 'defaultKeepAliveMin')
    this.#jitterWeight = param(this.#p, 'jitterWeight')
    this.#jitterSamples = param(this.#p, 'jitterSamples')
    this.#tailShape = param(this.#p, 'priorTailShape')
    this.#tailPseudo = param(this.#p, 'tailPseudoCount')
    this.#refreshMin = param(this.#p, 'refreshMin')
    this.#targetShare = param(this.#p, 'targetPercentile') / 100
  }

  /** The current budget price (1 without a budget), for tests and reports. */
  get price (): number { return this.#price }

  /** Idle memory held in the minute before the one being decided, as counted so far (only with a budget). */
  get heldMb (): number { return this.#heldMb }

  /** Memory is used by memoryExponent; without it 128 MB is assumed. */
  register (fn: string, info: FunctionInfo): void { this.#info.set(fn, info) }

  #priorFor (trigger: string | undefined): PopulationPrior {
    const key = trigger ?? 'any'
    let p = this.#priors.get(key)
    if (p === undefined) { p = new PopulationPrior(param(this.#p, 'priorRangeMin'), this.#tailShape, this.#priorWeight); this.#priors.set(key, p) }
    return p
  }

  observe (fn: string, timeMs: number, count: number): void {
    if (count <= 0) return
    const m = minuteOf(timeMs)
    let s = this.#fns.get(fn)
    if (s === undefined) {
      const info = this.#info.get(fn)
      const mem = info?.memoryMb ?? 128
      const prior = this.#priorFor(info?.trigger)
      prior.firstArrival(m)
      s = {
        lastMinute: m,
        firstMinute: m,
        plannedAt: m,
        prior,
        idle: new Uint16Array(param(this.#p, 'historySize')),
        next: 0,
        size: 0,
        plan: new Int32Array(2 * MAX_PLAN_INTERVALS).fill(-1),
        memoryFactor: Math.pow(mem / 128, param(this.#p, 'memoryExponent')),
        memoryMb: mem,
        invocations: 0,
        price: 1,
        heldMinute: -1,
        coldStarts: 1
      }
      this.#fns.set(fn, s)
      this.#states.push(s)
    } else if (m > s.lastMinute) {
      const idleMin = Math.min(65_535, m - s.lastMinute - 1)
      if (s.size === 0) s.prior.secondArrival(s.firstMinute, idleMin)
      if (s.heldMinute !== m) s.coldStarts++
      s.idle[s.next] = idleMin
      s.next = (s.next + 1) % s.idle.length
      if (s.size < s.idle.length) s.size++
      s.lastMinute = m
    } else {
      s.invocations += count
      return
    }
    s.invocations += count
    this.#plan(s, m + 1)
  }

  decide (fn: string, nowMs: number): Decision {
    const s = this.#fns.get(fn)
    if (s === undefined) return RELEASE
    const nowMinute = minuteOf(nowMs)
    if (nowMinute !== this.#floorMinute) this.#updateFloor(nowMinute)
    if (this.#budgetMb > 0) {
      if (nowMinute !== this.#priceMinute) this.#adjustPrice(nowMinute)
      // Held in the previous minute and no arrival came in it (its observe came before this decide): idle memory.
      if (s.heldMinute === nowMinute - 1 && s.lastMinute < nowMinute - 1) this.#heldMb += s.memoryMb
      if (Math.abs(s.price / this.#price - 1) > 0.2) this.#plan(s, nowMinute)
    }
    if (s.size < 8 && nowMinute - s.plannedAt >= this.#refreshMin) this.#plan(s, nowMinute)
    const base = s.lastMinute + 1 // the first idle minute
    const j = nowMinute - base
    const plan = s.plan
    for (let k = 0; k < plan.length; k += 2) {
      const start = plan[k] ?? -1
      const end = plan[k + 1] ?? -1
      if (start < 0) break
      if (end > j) {
        if (start <= j) s.heldMinute = nowMinute
        return { prewarmAt: (base + Math.max(start, Math.min(j, end))) * MINUTE_MS, keepAliveUntil: (base + end) * MINUTE_MS, instances: 1 }
      }
    }
    return { prewarmAt: s.lastMinute * MINUTE_MS, keepAliveUntil: base * MINUTE_MS, instances: 1 }
  }

  /**
   * Once per minute, with a budget: the memory held idle (held, and no arrival came) in the minute before last,
   * counted while deciding the last minute, averaged over about 30 minutes, against the budget. Over it, the price of an idle minute rises 25 %;
   * under 80 % of it, it falls 10 % back towards 1. Plans made at a price more than 20 % off are made again at their
   * function's next decision.
   */
  #adjustPrice (nowMinute: number): void {
    if (this.#priceMinute >= 0) {
      // The budget is on the average: a moving average over about BUDGET_WINDOW_MIN minutes, so the price does not
      // rise at one busy minute and fall back in the quiet ones after it.
      this.#heldAvgMb += (this.#heldMb - this.#heldAvgMb) / BUDGET_WINDOW_MIN
      if (this.#heldAvgMb > this.#budgetMb) this.#price = Math.min(1e6, this.#price * 1.25)
      else if (this.#heldAvgMb < 0.8 * this.#budgetMb) this.#price = Math.max(1, this.#price / 1.1)
    }
    this.#priceMinute = nowMinute
    this.#heldMb = 0
  }

  /** The online first-call floor, as a share (0..1), that the slack rule aims at. */
  get floorShare (): number { return this.#floorShare }

  /** This policy's own count of a function's cold starts (arrival minutes it held nothing in). */
  coldStarts (fn: string): number { return this.#fns.get(fn)?.coldStarts ?? 0 }

  /**
   * Once a minute, only when the slack rule is on: the first-call floor of the functions seen so far, i.e. the
   * targetPercentile (nearest rank) of 1/invocations. It does not depend on what this policy held, so holding less
   * cannot raise its own target.
   */
  #updateFloor (nowMinute: number): void {
    this.#floorMinute = nowMinute
    if (this.#slackTh <= 0) return
    const states = this.#states
    const n = states.length
    if (n === 0) return
    if (this.#floorScratch.length < n) this.#floorScratch = new Float64Array(2 * n)
    const v = this.#floorScratch
    for (let i = 0; i < n; i++) v[i] = Math.max(1, states[i]?.invocations ?? 0)
    const rank = Math.max(1, Math.ceil(this.#targetShare * n))
    // The rank-th smallest of 1/max(1, invocations) is 1/(the rank-th largest of max(1, invocations)), as a
    // correctly rounded 1/x never rises with x: a selection, not a sort, and one division, not n.
    this.#floorShare = 1 / kthSmallest(v, n, n - Math.min(n, rank))
  }

  stateBytes (fn: string): number {
    const s = this.#fns.get(fn)
    return s === undefined ? 0 : s.idle.byteLength + s.plan.byteLength + 8 * 8
  }

  /** The warm intervals, in idle minutes after the last arrival minute, for tests and reports. */
  plan (fn: string): Array<[number, number]> {
    const out: Array<[number, number]> = []
    const p = this.#fns.get(fn)?.plan
    if (p === undefined) return out
    for (let k = 0; k < p.length && (p[k] ?? -1) >= 0; k += 2) out.push([p[k] ?? 0, p[k + 1] ?? 0])
    return out
  }

  #plan (s: FnState, nowMinute: number): void {
    s.plannedAt = nowMinute
    // Each avoided cold start lowers the function's cold-start share by 1/invocations: rare functions are worth more.
    let theta = Math.min(1, this.#price * Math.min(this.#maxTh, Math.max(this.#minTh, this.#hazardTh * s.invocations * s.memoryFactor)))
    // Slack: a function that can take one more cold start and still be at or under the floor is held only for
    // likely arrivals; its memory is better spent on functions the next cold start would push over it.
    const slackTh = this.#slackTh
    if (slackTh > 0 && this.#floorShare * s.invocations - s.coldStarts >= 1) theta = Math.max(theta, slackTh)
    s.price = this.#price
    const plan = s.plan
    plan.fill(-1)
    const n = s.size
    const priorReady = s.prior.functions >= this.#priorMinFns
    if (n === 0 && !priorReady) {
      const k = this.#defaultKeepAliveMin
      if (k > 0) { plan[0] = 0; plan[1] = Math.ceil(k) }
      return
    }
    const idle = s.idle
    let maxIdle = 0
    for (let i = 0; i < n; i++) maxIdle = Math.max(maxIdle, idle[i] ?? 0)
    const alpha = priorReady ? this.#priorWeight : 0
    const R = s.prior.rangeMin
    const span = Math.max(maxIdle + 2, alpha > 0 ? R : 0) + 1
    if (scratch.length < span) scratch = new Float64Array(span * 2)
    // mass[j], j < span: the function's own samples (jittered); the prior's and the own tail's shares are added
    // in the scan.
    const mass = scratch
    mass.fill(0, 0, span)
    const js = this.#jitterSamples
    const spread = this.#jitterWeight * (js <= 0 ? 0 : js / (js + n))
    for (let i = 0; i < n; i++) {
      const x = idle[i] ?? 0
      mass[x] = (mass[x] ?? 0) + 1 - spread
      if (x > 0) mass[x - 1] = (mass[x - 1] ?? 0) + spread / 2
      else mass[x] = (mass[x] ?? 0) + spread / 2
      mass[x + 1] = (mass[x + 1] ?? 0) + spread / 2
    }
    // mass(j) = own(j) + alpha * prior(j), then + own tail(j), each term read in place; survival starts at the total.
    let tailBeyond = 0
    let survival = n
    // Own tail: w pseudo-samples of an idle time longer than every one in the ring (the chance that the next of n
    // exchangeable samples exceeds them all is 1/(n+1)), from idle minute maxIdle+1 on with the Pareto hazard
    // a/(j+1). Without it the hazard past the longest idle time seen is 0 and the instance is released there.
    const a = this.#tailShape
    const w = n > 0 && a > 0 ? this.#tailPseudo : 0
    const ownTailFrom = maxIdle + 1
    let ownTail = w
    survival += w
    const zero = zerosFor(span)
    let weighted = zero
    if (alpha > 0) {
      const v = s.prior.view(nowMinute)
      tailBeyond = alpha * v.beyond
      survival += alpha * v.sum + tailBeyond
      weighted = v.weighted // alpha x the prior's pmf, R numbers (R < span)
    }
    // The own tail's mass at idle minute j >= ownTailFrom is tailCoef x tailMass[j].
    let tailMass = zero
    let tailCoef = 0
    if (w > 0) {
      const inv = reciprocals(span)
      if (a === 1) {
        // With a = 1 (the default) the own tail is closed-form, survival w*T0/j and mass w*T0/(j(j+1)) from T0 =
        // maxIdle+1 on (the recurrence made a simulation ~1.4x the CPU time).
        tailCoef = w * ownTailFrom
        tailMass = recipStep
        ownTail = span > ownTailFrom ? tailCoef * (inv[span - 1] ?? 0) : w
      } else {
        if (tailScratch.length < span) tailScratch = new Float64Array(span * 2)
        for (let j = ownTailFrom; j < span; j++) {
          const t = ownTail * Math.min(1, a * (inv[j] ?? 0))
          ownTail -= t
          tailScratch[j] = t
        }
        tailCoef = 1 // 1 x t is t
        tailMass = tailScratch
      }
    }
    // The scan: an idle minute is warm where its hazard mass(j)/survival(j) reaches theta. It runs in at most three
    // segments (split at ownTailFrom and at the prior's range R), each one loop with its terms fixed; a term a
    // segment lacks is read from zeros, and adding or multiplying by zero leaves every mass(j) what it was when the
    // terms were added one by one (all terms are >= 0 and finite).
    const cap = plan.length
    let k = 0
    let open = -1
    let j = 0
    scan: while (j < span) {
      let hi = span
      if (w > 0 && j < ownTailFrom && ownTailFrom < hi) hi = ownTailFrom
      if (alpha > 0 && j < R && R < hi) hi = R
      const prior = alpha > 0 && j < R ? weighted : zero
      const tailOn = w > 0 && j >= ownTailFrom
      const tail = tailOn ? tailMass : zero
      const c = tailOn ? tailCoef : 0
      for (; j < hi; j++) {
        const mj = (mass[j] ?? 0) + (prior[j] ?? 0) + c * (tail[j] ?? 0)
        const warm = survival > 1e-12 && mj / survival >= theta && mj > 0
        if (warm) {
          if (open < 0) open = j
        } else if (open >= 0) {
          plan[k] = open; plan[k + 1] = j; k += 2
          open = -1
          if (k >= cap) break scan // the plan is full: nothing further would be written
        }
        survival -= mj
      }
    }
    // Past the span only the tails are left (every own sample is behind): their hazard is a/(j+1), so the
    // function stays warm while a/(j+1) >= theta, i.e. up to idle minute a/theta - 1 (one analytic interval).
    // The own tail has the same hazard, so the mixture's hazard past the span is a/(j+1) as well.
    const tailEnd = a > 0 && tailBeyond + ownTail > 1e-12 && theta > 0 ? Math.min(MAX_TAIL_MIN, Math.floor(a / theta)) : 0
    if (open >= 0) {
      if (k < cap) { plan[k] = open; plan[k + 1] = Math.max(span, tailEnd) }
    } else if (tailEnd > span && k < cap) {
      plan[k] = span; plan[k + 1] = tailEnd
    }
  }
}
