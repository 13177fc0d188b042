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

  /** The service times over the window, ms (the competing work's sizes: lifeShare weighs them). */
  serviceSamples (): number[] { return this.pushServiceSamples([]) }

  /** Appends the window's service times to `out` (one list for several meters, no copy per meter). */
  pushServiceSamples (out: number[]): number[] {
    this.#trim()
    for (const x of this.#service) out.push(x.ms)
    return out
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
 * The share of a run's full arrival contention that work arriving during its life can inflict (0 to 1), for a
 * run of `execMs` started with no competing work running (what runs at send is counted apart, exactly:
 * TierState.sharing and the queue ahead). An arrival at time t into the run, of size S, shares the CPU while
 * both run: under processor sharing it delays the run by min(S, what the run has left, x - t) (each gets half).
 * Over arrivals at rate lambda during the run's life x, to first order in lambda:
 *   extra = lambda * integral_0^x E[min(S, u)] du = lambda * E[h(S, x)],
 *   h(s, x) = x^2 / 2 when s >= x, else s x - s^2 / 2.
 * Against the unconditional M/G/1-PS first order, rho x = lambda E[S] x, that is the share
 *   phi(x) = E[h(S, x)] / (x E[S]),
 * about x / (2 E[S]) for a run much shorter than the competing work (an idle edge gets almost nothing from
 * arrivals during a 60 ms run when they last a second; the PS mean x rho / (1 - rho) counted the work present
 * at arrival, which an idle edge does not have), and 1 - E[S^2] / (2 x E[S]) -> 1 for a run much longer than
 * it. `services`: the competing arrivals' service times over the meter's window (pooled over functions, each
 * sample is one arrival, so the pool weighs each function by its rate). No samples, or a run of 0 ms: 1 (the
 * unconditional term, as before).
 */
export function lifeShare (execMs: number, services: ReadonlyArray<number> | undefined): number {
  if (services === undefined || services.length === 0 || !(execMs > 0)) return 1
  let h = 0
  let total = 0
  const x = execMs
  for (const s of services) {
    if (!(s > 0)) continue
    total += s
    h += s >= x ? x * x / 2 : s * x - s * s / 2
  }
  return total > 0 ? Math.min(1, h / (x * total)) : 1
}

/**
 * The expected extra time (ms) future arrivals add to a run whose fitted time is `execMs` at offered load `rho`
 * now (M/G/1-PS: a run takes its alone time / (1 - rho)). `rhoFit` is the load the fit was learned under: its
 * runs already held that much contention, so only the change counts (negative when the load fell since).
 * `share` (lifeShare, 0 to 1) scales it to what arrivals during the run's own life can add (1: the PS mean).
 */
export function arrivalContentionMs (execMs: number, rho: number, rhoFit = 0, share = 1): number {
  if (!(execMs > 0)) return 0
  const now = Math.min(0.9, rho > 0 ? rho : 0)
  const fit = Math.min(0.9, rhoFit > 0 ? rhoFit : 0)
  return share * execMs * (now - fit) / (1 - now)
}
