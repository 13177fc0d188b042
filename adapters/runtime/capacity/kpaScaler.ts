import type { PoolView, Scaler } from './scaler.js'

export interface KpaSettings {
  /** Share of concurrency per instance the autoscaler aims for: Knative's container-concurrency-target-percentage, 70. */
  targetUtilization: number
  /** Knative stable-window: 60000 ms. */
  stableWindowMs: number
  /** Knative panic-window-percentage 10% of the stable window: 6000 ms. */
  panicWindowMs: number
  /** Panic when the panic window wants this many times the instances there are: Knative's 200%. */
  panicThreshold: number
  /** How often the autoscaler decides: Knative's tick-interval, 2000 ms. */
  tickMs: number
  /**
   * Knative's max-scale-down-rate, 2: one decision goes no lower than floor(ready / 2) (so from 1 straight to 0).
   * 0 or less: no limit.
   */
  maxScaleDownRate: number
  /** Knative's max-scale-up-rate, 1000: one decision goes no higher than ceil(1000 x max(1, ready)). */
  maxScaleUpRate: number
}

export const KPA_DEFAULTS: Readonly<KpaSettings> = Object.freeze({
  targetUtilization: 0.7,
  stableWindowMs: 60_000,
  panicWindowMs: 6_000,
  panicThreshold: 2,
  tickMs: 2_000,
  maxScaleDownRate: 2,
  maxScaleUpRate: 1000
})

/**
 * A Knative-KPA-like scaler (knative/serving pkg/autoscaler/scaling/autoscaler.go): the time-weighted average
 * concurrency over the stable and panic windows, divided by (concurrency x target utilization); in panic mode
 * (panic-window want >= 2x ready) it never scales down until a stable window passes without panic. At zero instances
 * a waiting request scales to one at once, as Knative's activator does. Average concurrency is kept per 1-s bucket,
 * integrated exactly between the events the pool reports.
 */
export class KpaScaler implements Scaler {
  readonly kind = 'kpa'
  readonly periodMs: number
  /** Knative removes pods as soon as the desired count drops (scale-down delay 0). */
  readonly reapIdleMs = 0
  readonly #s: KpaSettings
  readonly #concurrency: number
  readonly #maxScale: number
  readonly #buckets: Float64Array
  #current = 0
  #lastMs = -1
  #desired = 0
  #panicUntil = -Infinity
  #lastTick = -1
  #head = -1

  constructor (concurrency: number, maxScale: number, settings: Partial<KpaSettings> = {}) {
    this.#s = { ...KPA_DEFAULTS, ...settings }
    this.#concurrency = concurrency
    this.#maxScale = maxScale
    this.periodMs = this.#s.tickMs
    this.#buckets = new Float64Array(Math.ceil(this.#s.stableWindowMs / 1000))
  }

  /** Zeroes the buckets between the newest one and bucket `b`, which becomes the newest. */
  #roll (b: number): void {
    const n = this.#buckets.length
    if (this.#head < 0) { this.#head = b; return }
    if (b <= this.#head) return
    const steps = Math.min(n, b - this.#head)
    for (let i = 1; i <= steps; i++) this.#buckets[(this.#head + i) % n] = 0
    this.#head = b
  }

  /** Adds current x dt to the 1-s buckets between the last event and now. */
  #integrate (nowMs: number): void {
    const n = this.#buckets.length
    if (this.#lastMs < 0 || this.#current === 0) { this.#roll(Math.floor(nowMs / 1000)); this.#lastMs = nowMs; return }
    let t = this.#lastMs
    while (t < nowMs) {
      const b = Math.floor(t / 1000)
      this.#roll(b)
      const until = Math.min(nowMs, (b + 1) * 1000)
      this.#buckets[b % n] = (this.#buckets[b % n] ?? 0) + this.#current * (until - t)
      t = until
    }
    this.#roll(Math.floor(nowMs / 1000))
    this.#lastMs = nowMs
  }

  onArrival (nowMs: number): void { this.#integrate(nowMs); this.#current++ }
  onComplete (nowMs: number): void { this.#integrate(nowMs); this.#current = Math.max(0, this.#current - 1) }

  #average (nowMs: number, windowMs: number): number {
    const n = this.#buckets.length
    const k = Math.max(1, Math.min(n, Math.round(windowMs / 1000)))
    const nb = Math.floor(nowMs / 1000)
    let sum = 0
    for (let i = 0; i < k; i++) sum += this.#buckets[(nb - i + n * 4) % n] ?? 0
    // The newest bucket is partly filled: divide by the time it covers.
    const covered = (k - 1) * 1000 + (nowMs - nb * 1000)
    return covered > 0 ? sum / covered : this.#current
  }

  tick (nowMs: number, view: PoolView): void {
    if (nowMs === this.#lastTick) return
    this.#lastTick = nowMs
    this.#integrate(nowMs)
    const perInstance = this.#concurrency * this.#s.targetUtilization
    // Knative (autoscaler.go): both counts within [floor(ready / maxScaleDownRate), ceil(maxScaleUpRate x ready)],
    // ready taken as at least 1.
    const have = Math.max(1, view.ready)
    const down = this.#s.maxScaleDownRate > 0 ? Math.floor(have / this.#s.maxScaleDownRate) : 0
    const up = Math.ceil(this.#s.maxScaleUpRate * have)
    const clamp = (x: number): number => Math.min(up, Math.max(down, x))
    const stable = clamp(Math.ceil(this.#average(nowMs, this.#s.stableWindowMs) / perInstance - 1e-9))
    const panic = clamp(Math.ceil(this.#average(nowMs, this.#s.panicWindowMs) / perInstance - 1e-9))
    if (panic >= this.#s.panicThreshold * have && panic > view.ready) this.#panicUntil = nowMs + this.#s.stableWindowMs
    let desired = stable
    if (nowMs < this.#panicUntil) desired = Math.max(this.#desired, panic, stable)
    this.#desired = Math.min(this.#maxScale, desired)
  }

  target (view: PoolView): number {
    // The activator: a request waiting at zero brings one instance up now.
    if (view.ready + view.starting === 0 && view.inFlight + view.waiting > 0) return Math.max(1, this.#desired)
    return this.#desired
  }

  keep (): number { return this.#desired }
}
