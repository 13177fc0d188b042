/**
 * The contracts shared by the simulator and the live actuators (DESIGN.md, "Interfaces").
 *
 * Time is absolute milliseconds everywhere (trace-relative in the simulator, epoch in a live system), so the
 * same objects run online: an actuator calls `observe` as arrivals come in and `decide` once a minute per
 * function, and the simulator makes exactly those calls from a trace.
 */

/** Milliseconds in one minute: the granularity of the model of Shahrad et al., ATC'20. */
export const MINUTE_MS = 60_000

/** What a policy wants for one function from `nowMs` on. */
export interface Decision {
  /**
   * When an instance should be loaded and idle, ready to serve. A time at or before `nowMs` means "keep
   * (or load) it now"; a later time means "unload now, load again at prewarmAt".
   */
  prewarmAt: number
  /** When the warm instance may be released. At or before `nowMs` means release now (scale to zero). */
  keepAliveUntil: number
  /** How many idle instances to hold during [prewarmAt, keepAliveUntil); 0 means none. */
  instances: number
}

/** Learns arrival patterns. `observe` is fed every arrival (or per-minute batch) as it happens. */
export interface ArrivalObserver {
  observe(fn: string, timeMs: number, count: number): void
}

/** Where the next arrival of a function is expected. */
export interface ArrivalForecast {
  /** Earliest expected start of the next arrival (ms, absolute). */
  fromMs: number
  /** Latest expected start of the next arrival (ms, absolute, exclusive). */
  toMs: number
  /** Which model produced it; `unknown` means the predictor has no usable model yet. */
  source: 'periodic' | 'histogram' | 'timeseries' | 'unknown'
}

/** DESIGN.md: `observe(fn, time, count)`, then `forecast(fn, horizon)`. */
export interface Predictor extends ArrivalObserver {
  /** The next arrival window within `horizonMs` of the last arrival, or undefined when none is expected there. */
  forecast(fn: string, horizonMs: number): ArrivalForecast | undefined
}

/** DESIGN.md: `decide(fn, now) -> { prewarmAt, keepAliveUntil, instances }`. */
export interface Policy extends ArrivalObserver {
  readonly name: string
  readonly params: Readonly<Record<string, number>>
  decide(fn: string, nowMs: number): Decision
  /** Bytes of per-function state this policy keeps for `fn` (its typed arrays and numbers), for the size report. */
  stateBytes(fn: string): number
  /** Optional: what is known about a function before its first arrival (the simulator passes the trace's figures). */
  register?(fn: string, info: FunctionInfo): void
}

/** Static facts about a function that a policy may use. */
export interface FunctionInfo {
  memoryMb: number
  durationMs: number
  trigger: string | undefined
}

/** The decision "nothing warm". */
export const RELEASE: Readonly<Decision> = Object.freeze({ prewarmAt: 0, keepAliveUntil: 0, instances: 0 })

/** The minute index a time falls in. */
export function minuteOf (timeMs: number): number {
  return Math.floor(timeMs / MINUTE_MS)
}
