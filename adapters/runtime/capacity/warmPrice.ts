/**
 * The warm floor's price, set by feedback instead of by a tuned constant. The SLO sizer keeps one instance of an idle
 * function while the hazard of its next arrival x the price (idle seconds one avoided cold start is worth) is >= 1
 * (sloScaler.ts); a fixed price meets an attainment target only on the traffic it was tuned on. This controller is
 * shared by every function of a box (the bench's target counts the box's requests, and one price for all is the
 * cheapest way to a share of them: it buys the cheapest avoided misses first) and moves the price toward the target.
 *
 * Every request reports whether it waited within its objective, with the share of misses its objective allows
 * (1 - the target). Requests are counted in batches; a batch closes once it has lasted `batchMs`, by default the
 * highest price (a change of the price shows at the next arrival of the functions it decides for, which come up to
 * about that long apart; a shorter batch, first tried as long as the current price, judged the bursts of misses, not
 * the price: bench/RESULTS.md), and holds at least `batchMisses` allowed misses (enough to tell a miss share from
 * noise). At the close the price is judged against an error budget, a balance of allowed minus actual misses that
 * carries debts and banks no credit: balance = min(z sqrt(a), balance + a - m) for a batch of m misses against a
 * allowed. A burst of misses, or every function's first requests after a start, is paid back by the next batches
 * (the target counts all requests); misses avoided beyond one batch's noise are not banked (a day-long surplus spent
 * later ran the price down to its floor and below the target for hours on the tuning half: bench/RESULTS.md):
 * - balance < 0 (in debt): the price goes up by sqrt 2;
 * - balance at its cap z sqrt(a) (this batch comfortably within, nothing owed): down by sqrt 2;
 * - between: unchanged (the hysteresis band, on the target's safe side).
 * `holdWhilePaying` (anti-windup): in debt, the price goes up only after a batch that added to the debt (m > a); a
 * batch that paid some of it back holds the price, which is then enough (bench/RESULTS.md "Capacity: the price's
 * windup": raising it at every batch in debt took it from 77 to 438 s on the tuning half while every batch already
 * paid back). `step` (sqrt 2) and `downAfter` (1 batch at the cap per decrease) are the other designs compared there.
 * `payBack: false` judges each batch alone (m against a) and steps by (m + 1) / (a + 1), at most 2x: the second
 * design tried, which held each batch near the target but never paid back a burst.
 * Bounded by [minSeconds, maxSeconds]. Nothing here is fitted to a trace: the bounds come from the pool (two sizer
 * periods: below that the floor never keeps an instance; the keep-alive: above it the floor keeps longer than the
 * reactive pool would), it starts at their geometric middle, and batchMisses, z and the sqrt 2 step are conventions.
 * Start-up (bench/RESULTS.md "Capacity: start-up misses"): a request that arrived before its function had ever had
 * an instance ready (its function's first cold start, and whoever arrives during it) is counted apart, neither a
 * miss nor an allowance, whatever it waited: no price could have avoided it (the price only decides how long an instance that
 * exists is kept, or whether one is started for an arrival the histogram expects; with no instance ever ready there
 * was none to keep and no gap yet to expect). Every other miss is charged, queueing included: the target counts it,
 * and one price buys the cheapest avoided cold starts to make up for it. `chargeStartup: true`: the earlier
 * accounting, every miss charged (the first hour at the highest price, paying back every function's first requests).
 * Pure: it is given the time, it reads no clock.
 */
export interface WarmPriceSettings {
  /** The most batch records `steps` keeps, the oldest dropped first (default: all; a live box keeps the last 1,000). */
  keepSteps?: number
  /** Lowest price, s: 2 x the sizer's period (the hazard horizon). */
  minSeconds: number
  /** Highest price, s: the pool's keep-alive. */
  maxSeconds: number
  /** Starting price, s (default: the geometric middle of the bounds). */
  initialSeconds?: number | undefined
  /** Shortest batch, ms (default maxSeconds: the longest a price takes to show). */
  batchMs?: number | undefined
  /** Judge against the error budget's balance (default true); false: each batch alone. */
  payBack?: boolean | undefined
  /** Allowed misses a batch must hold before it is judged (default 10). */
  batchMisses?: number | undefined
  /** Width of the band under the allowance, in Poisson standard deviations (default 2). */
  z?: number | undefined
  /** Charge start-up misses (see above) to the budget too (default false: counted apart, not charged). */
  chargeStartup?: boolean | undefined
  /** In debt, raise the price only after a batch that added to the debt (m > a); hold while it shrinks (default false). */
  holdWhilePaying?: boolean | undefined
  /** Factor of one step up or down (default sqrt 2). */
  step?: number | undefined
  /** Batches in a row at the cap before the price goes down (default 1). */
  downAfter?: number | undefined
}

/**
 * The box's price's design, where the pool builds it (capacityConfig.ts, the simulator's boxWarmPrice, a sizer
 * without a box's price): no windup (`holdWhilePaying`) and down only after 2 batches in a row at the cap
 * (`downAfter: 2`), adopted with `capacity.attainmentTarget: 0.99` as the default on the sixth held-out look
 * (bench/RESULTS.md "Capacity: the feedback price behind the start gate": 99.00% at 0.94x KPA-like on Azure 2019's
 * second half, 99.15% at 0.99x on ULB, both behind the start gate). The class's own defaults stay the plain rule,
 * which the bench's earlier rows and the unit tests name.
 */
export const BOX_WARM_PRICE: Readonly<Pick<WarmPriceSettings, 'holdWhilePaying' | 'downAfter'>> = Object.freeze({ holdWhilePaying: true, downAfter: 2 })

/** A batch judged: requests charged, their misses and allowance, start-up requests counted apart, the price after. */
export interface WarmPriceStep { atMs: number; requests: number; misses: number; allowed: number; startup: number; seconds: number; balance: number }

export class WarmPrice {
  readonly minSeconds: number
  readonly maxSeconds: number
  readonly #batchMisses: number
  readonly #batchMs: number
  readonly #payBack: boolean
  /** Allowed minus actual misses carried from batch to batch (debts kept, credit capped). */
  #balance = 0
  readonly #z: number
  #seconds: number
  #from = -1
  #requests = 0
  #misses = 0
  #allowed = 0
  #startup = 0
  readonly #chargeStartup: boolean
  readonly #holdWhilePaying: boolean
  readonly #step: number
  readonly #downAfter: number
  #atCap = 0
  /** Start-up requests that missed (counted apart, not charged), and misses charged, since construction. */
  startupMisses = 0
  chargedMisses = 0
  /** Every batch judged, oldest first (the bench prints how the price moved). */
  readonly steps: WarmPriceStep[] = []
  readonly #keepSteps: number

  constructor (s: WarmPriceSettings) {
    if (!(s.minSeconds > 0) || !(s.maxSeconds >= s.minSeconds)) throw new RangeError(`warm price bounds must satisfy 0 < min <= max, got ${s.minSeconds}..${s.maxSeconds}`)
    this.minSeconds = s.minSeconds
    this.#keepSteps = s.keepSteps ?? Infinity
    if (!(this.#keepSteps >= 1)) throw new RangeError(`warm price keepSteps must be >= 1, got ${s.keepSteps}`)
    this.maxSeconds = s.maxSeconds
    this.#batchMisses = s.batchMisses ?? 10
    this.#batchMs = s.batchMs ?? s.maxSeconds * 1000
    this.#payBack = s.payBack ?? true
    this.#z = s.z ?? 2
    this.#chargeStartup = s.chargeStartup ?? false
    this.#holdWhilePaying = s.holdWhilePaying ?? false
    this.#step = s.step ?? Math.SQRT2
    this.#downAfter = s.downAfter ?? 1
    this.#seconds = this.#clamp(s.initialSeconds ?? Math.sqrt(s.minSeconds * s.maxSeconds))
  }

  /**
   * One request's outcome: within its objective or not, and the miss share its target allows (1 - target).
   * `startup`: it arrived before its function had ever had an instance ready; such a request is counted apart,
   * neither a miss nor an allowance (unless chargeStartup).
   */
  record (nowMs: number, within: boolean, allowedMissShare: number, startup = false): void {
    this.#close(nowMs)
    if (startup && !this.#chargeStartup) {
      this.#startup++
      if (!within) this.startupMisses++
      return
    }
    this.#requests++
    if (!within) { this.#misses++; this.chargedMisses++ }
    this.#allowed += allowedMissShare
  }

  /** The error budget's balance after the last batch judged (allowed minus charged misses, carried). */
  get balance (): number { return this.#payBack ? this.#balance : 0 }

  /** The price now, in idle seconds per avoided cold start (closes a batch that is due). */
  seconds (nowMs: number): number {
    this.#close(nowMs)
    return this.#seconds
  }

  #clamp (x: number): number { return Math.min(this.maxSeconds, Math.max(this.minSeconds, x)) }

  #close (nowMs: number): void {
    if (this.#from < 0) { this.#from = nowMs; return }
    if (nowMs - this.#from < this.#batchMs || this.#allowed < this.#batchMisses) return
    const m = this.#misses
    const a = this.#allowed
    if (this.#payBack) {
      const cap = this.#z * Math.sqrt(a)
      this.#balance = Math.min(cap, this.#balance + a - m)
      this.#atCap = this.#balance >= cap ? this.#atCap + 1 : 0
      if (this.#balance < 0) {
        // In debt: up a step (with holdWhilePaying, only after a batch that added to the debt).
        if (!this.#holdWhilePaying || m > a) this.#seconds = this.#clamp(this.#seconds * this.#step)
      } else if (this.#atCap >= this.#downAfter) {
        this.#seconds = this.#clamp(this.#seconds / this.#step)
        this.#atCap = 0
      }
    } else {
      const ratio = (m + 1) / (a + 1)
      if (m > a) this.#seconds = this.#clamp(this.#seconds * Math.min(2, ratio))
      else if (m < a - this.#z * Math.sqrt(a)) this.#seconds = this.#clamp(this.#seconds * Math.max(0.5, ratio))
    }
    this.steps.push({ atMs: nowMs, requests: this.#requests, misses: m, allowed: a, startup: this.#startup, seconds: this.#seconds, balance: this.#payBack ? this.#balance : a - m })
    if (this.steps.length > this.#keepSteps) this.steps.splice(0, this.steps.length - this.#keepSteps)
    this.#from = nowMs
    this.#requests = 0
    this.#misses = 0
    this.#allowed = 0
    this.#startup = 0
  }
}
