/**
 * A small autoregressive forecaster for the next idle time, standing in for the ARIMA of Shahrad et al. (ATC'20
 * section 4.2 uses ARIMA for applications whose idle times fall mostly beyond the histogram range).
 *
 * Simplification, documented in docs/prefetch.md: an AR(p) model with mean (ARIMA(p,0,0)) fitted by Yule-Walker
 * (Levinson-Durbin recursion) on the last `capacity` idle times, order p = min(maxOrder, samples/3); no differencing,
 * no moving-average terms, no order search. With fewer than 3 samples it forecasts the mean. The forecast is clamped
 * to [min, max] of the window, so a poorly fitted model cannot send the pre-warm to an absurd time.
 */
export class ArForecaster {
  readonly #ring: Float32Array
  #next = 0
  #size = 0
  readonly #maxOrder: number

  constructor (capacity = 16, maxOrder = 2) {
    this.#ring = new Float32Array(capacity)
    this.#maxOrder = maxOrder
  }

  get size (): number { return this.#size }

  push (value: number): void {
    this.#ring[this.#next] = value
    this.#next = (this.#next + 1) % this.#ring.length
    if (this.#size < this.#ring.length) this.#size++
  }

  /** The samples oldest first. */
  values (): number[] {
    const out: number[] = []
    const start = (this.#next - this.#size + this.#ring.length) % this.#ring.length
    for (let i = 0; i < this.#size; i++) out.push(this.#ring[(start + i) % this.#ring.length] ?? 0)
    return out
  }

  /** One-step-ahead forecast; undefined with no samples. */
  forecast (): number | undefined {
    const x = this.values()
    const n = x.length
    if (n === 0) return undefined
    const mean = x.reduce((a, b) => a + b, 0) / n
    const p = Math.min(this.#maxOrder, Math.floor(n / 3))
    if (p === 0) return mean
    // Autocovariances r[0..p] of the demeaned series.
    const r: number[] = []
    for (let k = 0; k <= p; k++) {
      let s = 0
      for (let t = k; t < n; t++) s += ((x[t] ?? 0) - mean) * ((x[t - k] ?? 0) - mean)
      r.push(s / n)
    }
    const r0 = r[0] ?? 0
    if (r0 <= 1e-12) return mean // constant series
    const phi = levinsonDurbin(r, p)
    let y = mean
    for (let k = 1; k <= p; k++) y += (phi[k - 1] ?? 0) * ((x[n - k] ?? 0) - mean)
    let lo = Infinity
    let hi = -Infinity
    for (const v of x) { if (v < lo) lo = v; if (v > hi) hi = v }
    return Math.min(hi, Math.max(lo, y))
  }

  get bytes (): number { return this.#ring.byteLength + 3 * 8 }
}

/** Yule-Walker AR coefficients phi[0..p-1] from autocovariances r[0..p]. */
export function levinsonDurbin (r: number[], p: number): number[] {
  let phi: number[] = []
  let err = r[0] ?? 0
  for (let k = 1; k <= p; k++) {
    let acc = r[k] ?? 0
    for (let j = 1; j < k; j++) acc -= (phi[j - 1] ?? 0) * (r[k - j] ?? 0)
    const kappa = err === 0 ? 0 : acc / err
    const next = phi.slice()
    for (let j = 1; j < k; j++) next[j - 1] = (phi[j - 1] ?? 0) - kappa * (phi[k - j - 1] ?? 0)
    next[k - 1] = kappa
    phi = next
    err *= (1 - kappa * kappa)
  }
  return phi
}
