/**
 * FROZEN REFERENCE, do not edit: prefetch/policies/iotlessPolicy.ts as it was at 341de01 (before the decision-cost
 * work of issue 15), kept only so that test/prefetch/decisionEquivalence.test.ts and bench/prefetch/decisionCost.ts
 * can check that the faster policy makes exactly the same decisions. Not used by the product.
 */
import { MINUTE_MS, RELEASE, minuteOf, type Decision, type FunctionInfo, type Policy } from '../../../prefetch/policies/policy.js'
import { param, resolveParams, type ParamSpecs } from '../../../prefetch/policies/policyParams.js'
import { PopulationPriorV1 } from './populationPriorV1.js'

const IOTLESS_PARAMS: ParamSpecs = {
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
  prior: PopulationPriorV1
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
function reciprocals (n: number): Float64Array {
  if (recip.length < n) {
    recip = new Float64Array(Math.max(n, 2 * recip.length, 512))
    for (let j = 0; j < recip.length; j++) recip[j] = 1 / (j + 1)
  }
  return recip
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
export class IotlessPolicyV1 implements Policy {
  readonly name = 'iotless'
  readonly params: Readonly<Record<string, number>>
  readonly #fns = new Map<string, FnState>()
  /** One prior per trigger kind (timer, http, ...), so a timer's first gap is judged by other timers. */
  readonly #priors = new Map<string, PopulationPriorV1>()
  readonly #info = new Map<string, FunctionInfo>()
  readonly #p: Record<string, number>
  readonly #budgetMb: number
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
  }

  /** The current budget price (1 without a budget), for tests and reports. */
  get price (): number { return this.#price }

  /** Idle memory held in the minute before the one being decided, as counted so far (only with a budget). */
  get heldMb (): number { return this.#heldMb }

  /** Memory is used by memoryExponent; without it 128 MB is assumed. */
  register (fn: string, info: FunctionInfo): void { this.#info.set(fn, info) }

  #priorFor (trigger: string | undefined): PopulationPriorV1 {
    const key = trigger ?? 'any'
    let p = this.#priors.get(key)
    if (p === undefined) { p = new PopulationPriorV1(param(this.#p, 'priorRangeMin'), param(this.#p, 'priorTailShape')); this.#priors.set(key, p) }
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
    if (s.size < 8 && nowMinute - s.plannedAt >= param(this.#p, 'refreshMin')) this.#plan(s, nowMinute)
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
    if (param(this.#p, 'slackThreshold') <= 0) return
    const n = this.#fns.size
    if (n === 0) return
    if (this.#floorScratch.length < n) this.#floorScratch = new Float64Array(2 * n)
    const v = this.#floorScratch.subarray(0, n)
    let i = 0
    for (const s of this.#fns.values()) v[i++] = 1 / Math.max(1, s.invocations)
    v.sort()
    const target = param(this.#p, 'targetPercentile') / 100
    const rank = Math.max(1, Math.ceil(target * n))
    this.#floorShare = v[Math.min(n, rank) - 1] ?? 1
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
    const p = this.#p
    s.plannedAt = nowMinute
    // Each avoided cold start lowers the function's cold-start share by 1/invocations: rare functions are worth more.
    let theta = Math.min(1, this.#price * Math.min(param(p, 'maxThreshold'), Math.max(param(p, 'minThreshold'), param(p, 'hazardThreshold') * s.invocations * s.memoryFactor)))
    // Slack: a function that can take one more cold start and still be at or under the floor is held only for
    // likely arrivals; its memory is better spent on functions the next cold start would push over it.
    const slackTh = param(p, 'slackThreshold')
    if (slackTh > 0 && this.#floorShare * s.invocations - s.coldStarts >= 1) theta = Math.max(theta, slackTh)
    s.price = this.#price
    s.plan.fill(-1)
    const n = s.size
    const priorReady = s.prior.functions >= Math.max(1, param(p, 'priorMinFunctions'))
    if (n === 0 && !priorReady) {
      const k = param(p, 'defaultKeepAliveMin')
      if (k > 0) { s.plan[0] = 0; s.plan[1] = Math.ceil(k) }
      return
    }
    let maxIdle = 0
    for (let i = 0; i < n; i++) maxIdle = Math.max(maxIdle, s.idle[i] ?? 0)
    const alpha = priorReady ? param(p, 'priorWeight') : 0
    const span = Math.max(maxIdle + 2, alpha > 0 ? s.prior.rangeMin : 0) + 1
    if (scratch.length < span) scratch = new Float64Array(span * 2)
    const mass = scratch
    mass.fill(0, 0, span)
    const js = param(p, 'jitterSamples')
    const spread = param(p, 'jitterWeight') * (js <= 0 ? 0 : js / (js + n))
    for (let i = 0; i < n; i++) {
      const x = s.idle[i] ?? 0
      mass[x] = (mass[x] ?? 0) + 1 - spread
      if (x > 0) mass[x - 1] = (mass[x - 1] ?? 0) + spread / 2
      else mass[x] = (mass[x] ?? 0) + spread / 2
      mass[x + 1] = (mass[x + 1] ?? 0) + spread / 2
    }
    // The prior is read in place (no copy): mass(j) = own(j) + alpha * prior(j); survival starts at the total.
    let tailBeyond = 0
    let survival = n
    // Own tail: w pseudo-samples of an idle time longer than every one in the ring (the chance that the next of n
    // exchangeable samples exceeds them all is 1/(n+1)), from idle minute maxIdle+1 on with the Pareto hazard
    // a/(j+1). Without it the hazard past the longest idle time seen is 0 and the instance is released there.
    const a = param(p, 'priorTailShape')
    const w = n > 0 && a > 0 ? param(p, 'tailPseudoCount') : 0
    const ownTailFrom = maxIdle + 1
    let ownTail = w
    survival += w
    const inv = w > 0 ? reciprocals(span) : recip
    let pmf: Float64Array | undefined
    let R = 0
    if (alpha > 0) {
      const v = s.prior.view(nowMinute)
      pmf = v.pmf
      R = s.prior.rangeMin
      tailBeyond = alpha * v.beyond
      survival += alpha * v.sum + tailBeyond
    }
    let k = 0
    let open = -1
    // With a = 1 (the default) the own tail is closed-form, survival w*T0/j and mass w*T0/(j(j+1)) from T0 =
    // maxIdle+1 on, so it adds no step to the loop's dependency chain (the recurrence made a simulation ~1.4x the CPU time).
    const wT0 = a === 1 ? w * ownTailFrom : 0
    for (let j = 0; j < span; j++) {
      let mj = (mass[j] ?? 0) + (pmf !== undefined && j < R ? alpha * (pmf[j] ?? 0) : 0)
      if (w > 0 && j >= ownTailFrom) {
        if (wT0 > 0) mj += wT0 * ((inv[j - 1] ?? 0) - (inv[j] ?? 0))
        else {
          const t = ownTail * Math.min(1, a * (inv[j] ?? 0))
          ownTail -= t
          mj += t
        }
      }
      const warm = survival > 1e-12 && mj / survival >= theta && mj > 0
      if (warm && open < 0) open = j
      if (!warm && open >= 0) {
        if (k < s.plan.length) { s.plan[k] = open; s.plan[k + 1] = j; k += 2 }
        open = -1
      }
      survival -= mj
    }
    if (wT0 > 0) ownTail = span > ownTailFrom ? wT0 * (inv[span - 1] ?? 0) : w
    // Past the span only the tails are left (every own sample is behind): their hazard is a/(j+1), so the
    // function stays warm while a/(j+1) >= theta, i.e. up to idle minute a/theta - 1 (one analytic interval).
    // The own tail has the same hazard, so the mixture's hazard past the span is a/(j+1) as well.
    const tailEnd = a > 0 && tailBeyond + ownTail > 1e-12 && theta > 0 ? Math.min(MAX_TAIL_MIN, Math.floor(a / theta)) : 0
    if (open >= 0) {
      if (k < s.plan.length) { s.plan[k] = open; s.plan[k + 1] = Math.max(span, tailEnd) }
    } else if (tailEnd > span && k < s.plan.length) {
      s.plan[k] = span; s.plan[k + 1] = tailEnd
    }
  }
}
