import { serversNeeded } from './erlangC.js'
import { RateEstimator } from './rateEstimator.js'
import type { PoolView, Scaler } from './scaler.js'

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
   * period; tuned on the Azure 2021 trace, see bench/RESULTS.md).
   */
  holdMs: number
}

export const SLO_DEFAULTS: Readonly<SloSettings> = Object.freeze({
  periodMs: 5_000,
  longWindowMs: 120_000,
  burstWindowMs: 10_000,
  holdMs: 60_000
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
  readonly reapIdleMs: number
  readonly slo: Slo
  readonly #s: SloSettings
  readonly #concurrency: number
  readonly #maxScale: number
  readonly #est: RateEstimator
  #c = 0
  /** Recent decisions (time, c), newest last, for the hold. */
  readonly #recent: Array<{ at: number; c: number }> = []
  #keep = 0
  /** True while the model could not meet the SLO within maxScale at the last tick. */
  unmeetable = false
  lastRatePerSec = 0

  constructor (slo: Slo, concurrency: number, maxScale: number, settings: Partial<SloSettings> = {}) {
    this.slo = slo
    this.#s = { ...SLO_DEFAULTS, ...settings }
    this.#concurrency = concurrency
    this.#maxScale = maxScale
    this.periodMs = this.#s.periodMs
    this.reapIdleMs = this.#s.holdMs
    this.#est = new RateEstimator(this.#s)
  }

  get serviceUnknown (): boolean { return this.#est.serviceMs === undefined }
  get serviceMs (): number | undefined { return this.#est.serviceMs }
  /** Instances the model wants (before the hold). */
  get modelInstances (): number { return this.#c }

  onArrival (nowMs: number): void { this.#est.recordArrival(nowMs) }
  onComplete (_nowMs: number, serviceMs: number | undefined): void {
    if (serviceMs !== undefined) this.#est.recordService(serviceMs)
  }

  tick (nowMs: number): void {
    const svc = this.#est.serviceMs
    const rate = this.#est.rate(nowMs)
    this.lastRatePerSec = rate
    if (svc === undefined) {
      this.#c = 0
      this.unmeetable = false
    } else {
      const need = serversNeeded(rate, svc, this.slo.waitMs, this.slo.percentile, this.#maxScale * this.#concurrency)
      this.#c = Math.min(this.#maxScale, Math.ceil(need.servers / this.#concurrency))
      this.unmeetable = !need.met
    }
    this.#recent.push({ at: nowMs, c: this.#c })
    while (this.#recent.length > 0 && (this.#recent[0]?.at ?? 0) < nowMs - this.#s.holdMs) this.#recent.shift()
    let keep = 0
    for (const r of this.#recent) if (r.c > keep) keep = r.c
    this.#keep = keep
  }

  target (view: PoolView): number {
    return Math.max(this.#keep, Math.ceil((view.inFlight + view.waiting) / this.#concurrency))
  }

  keep (): number { return this.#keep }
}
