/**
 * The load a machine's future arrivals put on a run started now (the local pool: every function on one edge
 * box shares its CPU). Offered load rho = arrival rate x mean service time, both over the last `windowMs`:
 * a run started now is expected to share the CPU with work that arrives while it runs, and under processor
 * sharing (M/G/1-PS) its expected time is its alone time / (1 - rho), i.e. alone x rho / (1 - rho) more. The
 * requests already running are known exactly (TierState.sharing) and are not counted here. Pure: the clock is
 * injected.
 */
export class ArrivalLoad {
  readonly #now: () => number
  readonly #windowMs: number
  readonly #arrivals: number[] = []
  readonly #service: Array<{ at: number; ms: number }> = []

  constructor (now: () => number, windowMs = 30_000) {
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${windowMs}`)
    this.#now = now
    this.#windowMs = windowMs
  }

  /** A request arrived (was sent to the machine). */
  arrived (): void { this.#arrivals.push(this.#now()); this.#trim() }

  /** A request's service time (its own time on the machine, ms), when it ended. */
  served (ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    this.#service.push({ at: this.#now(), ms })
    this.#trim()
  }

  /** Arrivals per ms over the window. */
  rate (): number {
    this.#trim()
    const n = this.#arrivals.length
    if (n === 0) return 0
    // Over the window, or since the first arrival when the meter is younger than that (at least 1 s).
    const span = Math.min(this.#windowMs, Math.max(1000, this.#now() - (this.#arrivals[0] as number)))
    return n / span
  }

  /** Mean service time over the window, ms (0: none seen). */
  meanServiceMs (): number {
    this.#trim()
    let s = 0
    for (const x of this.#service) s += x.ms
    return this.#service.length === 0 ? 0 : s / this.#service.length
  }

  /** Offered load rho = rate x mean service, capped at 0.9 (beyond it the PS formula runs away). */
  utilization (): number { return Math.min(0.9, this.rate() * this.meanServiceMs()) }

  #trim (): void {
    const from = this.#now() - this.#windowMs
    while (this.#arrivals.length > 0 && (this.#arrivals[0] as number) < from) this.#arrivals.shift()
    while (this.#service.length > 0 && (this.#service[0] as { at: number }).at < from) this.#service.shift()
  }
}

/**
 * The expected extra time (ms) future arrivals add to a run whose fitted time is `execMs` at offered load `rho`
 * now (M/G/1-PS: a run takes its alone time / (1 - rho)). `rhoFit` is the load the fit was learned under: its
 * runs already held that much contention, so only the change counts (negative when the load fell since).
 */
export function arrivalContentionMs (execMs: number, rho: number, rhoFit = 0): number {
  if (!(execMs > 0)) return 0
  const now = Math.min(0.9, rho > 0 ? rho : 0)
  const fit = Math.min(0.9, rhoFit > 0 ? rhoFit : 0)
  return execMs * (now - fit) / (1 - now)
}
