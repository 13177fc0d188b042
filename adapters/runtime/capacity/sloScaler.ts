import { DEFAULT_KEEP_ALIVE_MS } from '../../../core/config/schema.js'
import { serversNeeded } from './erlangC.js'
import { GapHistogram } from './gapHistogram.js'
import { RateEstimator } from './rateEstimator.js'
import { headroomSlots } from './readyHeadroom.js'
import type { PoolView, Scaler } from './scaler.js'
import { BOX_WARM_PRICE, WarmPrice } from './warmPrice.js'

export interface Slo {
  /** The longest a request should wait for a slot, in ms: LaSS uses 100. */
  waitMs: number
  /** Share of requests that should wait no longer, in (0, 1): LaSS uses 0.95. */
  percentile: number
}

export interface SloSettings {
  /** How often the sizer decides: LaSS's scheduling period, 5000 ms. */
  periodMs: number
  /** LaSS: 120000 ms. */
  longWindowMs: number
  /** LaSS: 10000 ms. */
  burstWindowMs: number
  /**
   * How long a higher c is kept after the estimate fell, and how long an idle instance above c stays, in ms, so
   * that a lull between bursts does not stop instances the next burst needs again (LaSS stops them at the next
   * period; 15 s: chosen on the first half of the Azure 2019 slice, see bench/RESULTS.md).
   */
  holdMs: number
  /**
   * The burst window's rate is used when it is at least this many times the long window's (LaSS: 2); 0: the burst
   * window is off (the default: on the tuning half of Azure 2019 it cost 5% more instance-seconds for the same
   * attainment, bench/RESULTS.md).
   */
  burstFactor: number
  /** Each window's count n is taken as n + rateZ x sqrt(n), its upper confidence bound (0: LaSS's point estimate). */
  rateZ: number
  /**
   * The warm floor's price: keep (or start) one instance while the function's next arrival is expected often enough
   * that an idle instance-second buys at least 1 / idleSecondsPerColdStart avoided cold starts, i.e. while the hazard
   * of an arrival at the current idle age, from the function's own inter-arrival histogram, is at least that.
   * 0: no warm floor (LaSS: c = 0 once the window is empty).
   */
  idleSecondsPerColdStart: number
  /**
   * How the warm floor reads the histogram: `hazard` (priced by idleSecondsPerColdStart, above), or `percentiles`,
   * Serverless in the Wild's hybrid policy (Shahrad et al., ATC 2020): after an arrival the instance goes, and one
   * stands from 0.9 x the gaps' 5th percentile (pre-warm) until 1.1 x their 99th (keep-alive); with fewer than
   * minGaps gaps, keep-alive idleSecondsPerColdStart. For comparison (bench/RESULTS.md); `hazard` is the default.
   */
  floorRule: 'hazard' | 'percentiles'
  /** Gaps the inter-arrival histogram remembers (exponential forgetting). */
  gapMemory: number
  /** Below this many gaps the histogram is not trusted: one instance stays idleSecondsPerColdStart after each arrival. */
  minGaps: number
  /**
   * Use the burst window only for a function whose service time is shorter than it: a 10-s burst of a function
   * that serves in minutes is no steady rate to size an M/M/c queue for (it sized a 300-s function for 75 instances
   * on Azure 2019); its requests still start instances when they wait. false: LaSS (any function).
   */
  burstNeedsShortService: boolean
  /**
   * Requests that wait start instances only when the queue cannot drain within waitMs on the ready instances
   * (waiting x serviceMs / (ready x concurrency) > waitMs): one that gets a slot within the objective anyway does
   * not need a cold start. false: every waiting request starts one (today's pool).
   */
  startWhenQueueExceedsSlo: boolean
  /**
   * Ready headroom (readyHeadroom.ts): the time from a slot being taken to its replacement instance being ready, in
   * ms. Where the mean load plus k spare slots is below Erlang C's c (k the smallest with P(at least k arrivals within
   * replenishMs) <= 1 - percentile), the count is the requests in the function (in flight + waiting) plus k, and a
   * request that takes a slot starts its replacement at once; elsewhere Erlang C's steady-state c. 0: off (Erlang C
   * alone, LaSS).
   */
  replenishMs: number
  /**
   * The warm floor's price by feedback (warmPrice.ts): the share of requests that should wait at most waitMs, in
   * (0, 1); the sizer reports each request's outcome to the box's WarmPrice, which moves the price toward it, and
   * idleSecondsPerColdStart is not used. Default 0.99 (bench/RESULTS.md "Capacity: the feedback price behind the
   * start gate"). 0: off, the fixed price idleSecondsPerColdStart.
   */
  attainmentTarget: number
  /**
   * While none of the function's instances is ready, start no more than its backlog can use: an instance started now
   * is ready at the earliest this many ms later (the cold start of an instance started alone), and by then the n
   * already starting, ready no later (they started first), have served n x concurrency x coldStartMs / serviceMs of
   * it. So at most ceil(inSystem x serviceMs / (concurrency x max(serviceMs, this))) instances, at least one; with the
   * service time unmeasured, or longer than this, one per request as before. 0: off (one per waiting request).
   */
  noneReadyColdStartMs: number
}

export const SLO_DEFAULTS: Readonly<SloSettings> = Object.freeze({
  periodMs: 5_000,
  longWindowMs: 120_000,
  burstWindowMs: 10_000,
  holdMs: 15_000,
  burstFactor: 0,
  rateZ: 0,
  idleSecondsPerColdStart: 60,
  gapMemory: 200,
  minGaps: 3,
  floorRule: 'hazard',
  burstNeedsShortService: true,
  startWhenQueueExceedsSlo: true,
  replenishMs: 250,
  attainmentTarget: 0.99,
  noneReadyColdStartMs: 0
})

/**
 * LaSS's sizer: every period, c = the smallest number of slots with P(wait <= waitMs) >= percentile in an M/M/c
 * queue at the estimated rate and the measured service time, rounded up to instances (concurrency slots each),
 * at most maxScale. Until a service time has been measured the function runs best-effort (reactive), and
 * `serviceUnknown` says so. Requests that already wait still start instances as the reactive pool does: the model
 * sizes for the next period, and a burst inside one must not sit in the queue until it ends.
 */
export class SloScaler implements Scaler {
  readonly kind = 'slo'
  readonly periodMs: number
  readonly slo: Slo
  readonly #s: SloSettings
  readonly #concurrency: number
  readonly #maxScale: number
  readonly #est: RateEstimator
  readonly #gaps: GapHistogram
  #lastArrival = -1
  #warm = 0
  #heldC = 0
  #c = 0
  /** Erlang C's instances at the last tick (the headroom's upper bound), and the headroom's spare slots. */
  #erlangInstances = 0
  #spareSlots = 0
  /** Recent decisions (time, c), newest last, for the hold. */
  readonly #recent: Array<{ at: number; c: number }> = []
  #keep = 0
  /** The feedback price (attainmentTarget > 0): the box's, shared by its functions, or this function's own. */
  readonly #price: WarmPrice | undefined
  /** Whether the warm floor is on (a fixed price > 0, or the feedback price). */
  readonly #floorOn: boolean
  /** True while the model could not meet the SLO within maxScale at the last tick. */
  unmeetable = false
  lastRatePerSec = 0

  /**
   * `warmPrice`: the box's feedback price, shared by its functions (attainmentTarget > 0); without one the function
   * gets its own, bounded by 2 periods and the default keep-alive (600 s).
   */
  constructor (slo: Slo, concurrency: number, maxScale: number, settings: Partial<SloSettings> = {}, warmPrice?: WarmPrice) {
    this.slo = slo
    this.#s = { ...SLO_DEFAULTS, ...settings }
    this.#price = this.#s.attainmentTarget > 0
      ? warmPrice ?? new WarmPrice({ ...BOX_WARM_PRICE, minSeconds: 2 * this.#s.periodMs / 1000, maxSeconds: Math.max(DEFAULT_KEEP_ALIVE_MS / 1000, 2 * this.#s.periodMs / 1000) })
      : undefined
    this.#floorOn = this.#price !== undefined || this.#s.idleSecondsPerColdStart > 0
    this.#concurrency = concurrency
    this.#maxScale = maxScale
    this.periodMs = this.#s.periodMs
    this.#est = new RateEstimator(this.#s)
    this.#gaps = new GapHistogram(this.#s.gapMemory)
  }

  /**
   * Idle instances above keep() go after this long idle: holdMs while the model holds a count (an idle instance
   * above it may serve the next fluctuation); with a warm floor and no model count, at once: the floor decides
   * whether the last instance stays (it weighed the idle time against a cold start already).
   */
  get reapIdleMs (): number {
    return this.#floorOn && this.#heldC === 0 ? 0 : this.#s.holdMs
  }

  get serviceUnknown (): boolean { return this.#est.serviceMs === undefined }
  get serviceMs (): number | undefined { return this.#est.serviceMs }
  /** Instances the model wants (before the hold). */
  get modelInstances (): number { return this.#c }
  /** Erlang C's steady-state instances at the last tick (the model's count without the ready headroom). */
  get erlangInstances (): number { return this.#erlangInstances }
  /**
   * Spare slots the ready headroom keeps beside the requests in the function; 0 where Erlang C sizes it (headroom off,
   * nothing arriving, or the fixed count the cheaper).
   */
  get spareSlots (): number { return this.#spareSlots }
  /** 1 while the warm floor keeps an instance for the next arrival. */
  get warmFloor (): number { return this.#warm }

  onArrival (nowMs: number): void {
    this.#est.recordArrival(nowMs)
    if (this.#lastArrival >= 0) this.#gaps.record(nowMs - this.#lastArrival)
    this.#lastArrival = nowMs
  }

  /**
   * The warm floor at `nowMs`: 1 when the hazard of an arrival over the next two periods, at the current idle age,
   * is at least 1 / idleSecondsPerColdStart; with too few gaps yet, 1 for idleSecondsPerColdStart after an arrival.
   */
  #warmFloor (nowMs: number): number {
    const worth = this.#price?.seconds(nowMs) ?? this.#s.idleSecondsPerColdStart
    if (worth <= 0 || this.#lastArrival < 0) return 0
    const age = nowMs - this.#lastArrival
    if (this.#gaps.gaps < this.#s.minGaps) return age < worth * 1000 ? 1 : 0
    if (this.#s.floorRule === 'percentiles') {
      // Decided for the coming period: warm if any of (age, age + period] lies in the window.
      const from = 0.9 * this.#gaps.quantile(0.05)
      const until = 1.1 * this.#gaps.quantile(0.99)
      return age + this.#s.periodMs >= from && age <= until ? 1 : 0
    }
    return this.#gaps.hazard(age, 2 * this.#s.periodMs) * worth >= 1 ? 1 : 0
  }
  /** The warm floor's price now, in idle seconds per avoided cold start (fixed, or the feedback price's). */
  priceSeconds (nowMs: number): number { return this.#price?.seconds(nowMs) ?? this.#s.idleSecondsPerColdStart }

  /** A refused or failed request (no service time) is a miss for the feedback price. */
  onComplete (nowMs: number, serviceMs: number | undefined): void {
    if (serviceMs !== undefined) this.#est.recordService(serviceMs)
    else this.#price?.record(nowMs, false, 1 - this.#s.attainmentTarget)
  }

  /**
   * A request got its slot after waiting `waitMs`: within the objective or not, for the feedback price. `startup`:
   * it arrived before the function had ever had an instance ready (counted apart, not charged: warmPrice.ts).
   */
  onWait (nowMs: number, waitMs: number, startup = false): void {
    this.#price?.record(nowMs, waitMs <= this.slo.waitMs, 1 - this.#s.attainmentTarget, startup)
  }

  tick (nowMs: number, view?: PoolView): void {
    const svc = this.#est.serviceMs
    const burstOk = !this.#s.burstNeedsShortService || svc === undefined || svc <= this.#s.burstWindowMs
    const rate = this.#est.rate(nowMs, this.#s.rateZ, burstOk && this.#s.burstFactor > 0 ? this.#s.burstFactor : Infinity)
    this.lastRatePerSec = rate
    if (svc === undefined) {
      this.#c = 0
      this.#erlangInstances = 0
      this.#spareSlots = 0
      this.unmeetable = false
    } else {
      const need = serversNeeded(rate, svc, this.slo.waitMs, this.slo.percentile, this.#maxScale * this.#concurrency)
      this.#erlangInstances = Math.min(this.#maxScale, Math.ceil(need.servers / this.#concurrency))
      const spare = this.#s.replenishMs > 0 ? headroomSlots(rate, this.#s.replenishMs, 1 - this.slo.percentile) : 0
      // Follow the requests with spare slots where that is cheaper on average than Erlang C's fixed count: the mean
      // load a = rate x service time plus the spares below the fixed c (a function that serves for long against the
      // time an instance takes to start). Short frequent requests free slots faster than instances start: Erlang C.
      const load = rate * svc / 1000
      this.#spareSlots = spare > 0 && load + spare < need.servers ? spare : 0
      this.#c = this.#spareSlots > 0 && view !== undefined
        ? this.#withHeadroom(view.inFlight + view.waiting)
        : this.#erlangInstances
      this.unmeetable = !need.met
    }
    this.#recent.push({ at: nowMs, c: this.#c })
    while (this.#recent.length > 0 && (this.#recent[0]?.at ?? 0) < nowMs - this.#s.holdMs) this.#recent.shift()
    let keep = 0
    for (const r of this.#recent) if (r.c > keep) keep = r.c
    this.#heldC = keep
    // With a warm floor, whether the first instance stays through a lull is the floor's decision (the cost of a cold
    // start against that of an idle instance), not the model's: a 2-minute window holding one arrival would keep it
    // for 2 minutes whatever the function's pattern. The model's count stands from 2 instances up.
    if (this.#floorOn && keep < 2) keep = 0
    this.#warm = this.#warmFloor(nowMs)
    this.#keep = Math.min(this.#maxScale, Math.max(keep, this.#warm))
  }

  /** Instances for `inSystem` requests plus the headroom's spare slots. */
  #withHeadroom (inSystem: number): number {
    return Math.min(this.#maxScale, Math.ceil((inSystem + this.#spareSlots) / this.#concurrency))
  }

  target (view: PoolView): number {
    const have = view.ready + view.starting
    const svc = this.#est.serviceMs
    const inSystem = view.inFlight + view.waiting
    // The ready headroom follows the requests between ticks: one that takes a slot starts its replacement now. Only
    // beside a request: with none in the function, whether an instance stands is the warm floor's decision.
    const floor = this.#spareSlots > 0 && inSystem > 0 ? Math.max(this.#keep, this.#withHeadroom(inSystem)) : this.#keep
    if (this.#s.startWhenQueueExceedsSlo && svc !== undefined && view.ready > 0 && view.waiting > 0 &&
      view.waiting * svc / (view.ready * this.#concurrency) <= this.slo.waitMs) return Math.max(floor, Math.min(have, this.#maxScale))
    const perRequest = Math.ceil(inSystem / this.#concurrency)
    const coldMs = this.#s.noneReadyColdStartMs
    if (view.ready === 0 && svc !== undefined && coldMs > svc) {
      // None ready: instances beyond what the backlog can use would be ready after the first ones have served it.
      return Math.max(floor, Math.min(perRequest, Math.max(1, Math.ceil(inSystem * svc / (this.#concurrency * coldMs)))))
    }
    return Math.max(floor, perRequest)
  }

  keep (): number { return this.#keep }
}
