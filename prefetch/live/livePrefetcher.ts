import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/log.js'
import { instancesWanted, type Actuator, type LiveDecision } from '../actuators/actuator.js'
import { MINUTE_MS, type Decision, type FunctionInfo, type Policy } from '../policies/policy.js'

export interface LivePrefetcherOptions {
  policy: Policy
  actuator: Actuator
  clock: Clock
  log: Logger
  /** Functions known before their first arrival; they are decided on every minute from the start. */
  functions?: Iterable<string>
  /** Facts handed to `policy.register` (memory, duration), where known. */
  info?: (fn: string) => FunctionInfo | undefined
  /**
   * Real milliseconds that stand for one policy minute: 60000 in production. A trace replay sped up N times
   * sets 60000 / N, so the policy sees the trace's minutes.
   */
  minuteMs?: number
  /** Pre-warm this many real ms before the minute the policy wants an instance in (an early pass). 0: at the minute. */
  leadMs?: number
  /**
   * Pulls arrivals in (e.g. a /metrics scrape) right before each minute's decisions. What it reports through
   * `record` counts in the minute that just ended, so the policy sees it at once, not a minute late.
   */
  collect?: (record: (fn: string, count: number) => void) => Promise<void>
}

export interface LivePrefetcherStats {
  ticks: number
  decisions: number
  actuatorErrors: number
  collectErrors: number
}

/**
 * Drives a Policy on live arrivals, as the simulator does on a trace (prefetch/sim/simulate.ts): at the start of each
 * minute it first observes each function's arrivals of the minutes before, then decides, and hands the decision
 * to the actuator. Minutes are counted from `start` (its clock time, floored to the minute length), so policy time
 * is `minute index x 60000` whatever `minuteMs` is. The clock is injected: tests drive a ManualClock.
 */
export class LivePrefetcher {
  readonly policy: Policy
  readonly actuator: Actuator
  readonly minuteMs: number
  readonly leadMs: number
  readonly stats: LivePrefetcherStats = { ticks: 0, decisions: 0, actuatorErrors: 0, collectErrors: 0 }
  readonly #opts: LivePrefetcherOptions
  readonly #known = new Set<string>()
  /** Arrivals not yet observed: function -> minute index -> count. */
  readonly #pending = new Map<string, Map<number, number>>()
  #originMs: number
  #timer: TimerHandle | undefined
  #running: Promise<void> = Promise.resolve()
  #stopped = false
  #started = false
  readonly #last = new Map<string, LiveDecision>()

  constructor (opts: LivePrefetcherOptions) {
    this.#opts = opts
    this.policy = opts.policy
    this.actuator = opts.actuator
    this.minuteMs = opts.minuteMs ?? MINUTE_MS
    this.leadMs = Math.min(opts.leadMs ?? 0, this.minuteMs)
    if (!(this.minuteMs > 0)) throw new RangeError(`minuteMs must be > 0, got ${this.minuteMs}`)
    this.#originMs = Math.floor(opts.clock.now() / this.minuteMs) * this.minuteMs
    for (const fn of opts.functions ?? []) this.#know(fn)
  }

  /** The minute index a real time falls in. */
  minuteIndex (realMs: number): number { return Math.floor((realMs - this.#originMs) / this.minuteMs) }

  /** Real time of a policy time. */
  toReal (policyMs: number): number { return this.#originMs + (policyMs / MINUTE_MS) * this.minuteMs }

  /** The last decision handed to the actuator for `fn` (for diagnostics and tests). */
  lastDecision (fn: string): LiveDecision | undefined { return this.#last.get(fn) }

  get functions (): string[] { return [...this.#known] }

  #know (fn: string): void {
    if (this.#known.has(fn)) return
    this.#known.add(fn)
    const info = this.#opts.info?.(fn)
    if (info !== undefined) this.policy.register?.(fn, info)
  }

  /** An arrival source reports `count` arrivals of `fn` at `atMs` (default now). */
  record (fn: string, count = 1, atMs = this.#opts.clock.now()): void {
    if (count <= 0 || this.#stopped) return
    this.#know(fn)
    const m = this.minuteIndex(atMs)
    let byMinute = this.#pending.get(fn)
    if (byMinute === undefined) { byMinute = new Map(); this.#pending.set(fn, byMinute) }
    byMinute.set(m, (byMinute.get(m) ?? 0) + count)
  }

  /** Runs a tick at every minute start (and an early pass leadMs before it) until `stop`. */
  start (): void {
    if (this.#started) return
    this.#started = true
    this.#schedule()
  }

  #schedule (): void {
    if (this.#stopped) return
    const { clock } = this.#opts
    const now = clock.now()
    const next = this.#originMs + (this.minuteIndex(now) + 1) * this.minuteMs
    const early = next - this.leadMs
    if (this.leadMs > 0 && early > now) {
      this.#timer = clock.setTimeout(() => {
        if (this.#stopped) return
        this.#chain(() => this.#earlyPass(next))
        this.#timer = clock.setTimeout(() => this.#onMinute(), next - clock.now())
      }, early - now)
    } else {
      this.#timer = clock.setTimeout(() => this.#onMinute(), next - now)
    }
  }

  #onMinute (): void {
    this.#timer = undefined
    this.#chain(() => this.tick())
    this.#schedule()
  }

  #chain (step: () => Promise<void>): void {
    this.#running = this.#running.then(step, step)
  }

  /** Resolves when the ticks started so far have finished (tests await it after advancing a ManualClock). */
  whenIdle (): Promise<void> { return this.#running }

  /** One minute: collect, observe the finished minutes' arrivals, decide for every known function, actuate. */
  async tick (): Promise<void> {
    if (this.#stopped) return
    if (this.#opts.collect !== undefined) {
      const boundary = this.#opts.clock.now()
      try {
        await this.#opts.collect((fn, count) => this.record(fn, count, boundary - 1))
      } catch (err) {
        this.stats.collectErrors++
        this.#opts.log.warn({ err: (err as Error).message }, 'prefetch: collecting arrivals failed; deciding on what is known')
      }
    }
    const now = this.#opts.clock.now()
    const m = this.minuteIndex(now)
    this.stats.ticks++
    const applied: Array<Promise<void>> = []
    for (const fn of this.#known) {
      const byMinute = this.#pending.get(fn)
      if (byMinute !== undefined) {
        for (const [minute, count] of [...byMinute].sort((a, b) => a[0] - b[0])) {
          if (minute >= m) continue
          this.policy.observe(fn, minute * MINUTE_MS, count)
          byMinute.delete(minute)
        }
        if (byMinute.size === 0) this.#pending.delete(fn)
      }
      const d = this.policy.decide(fn, m * MINUTE_MS)
      applied.push(this.#apply(fn, d, now, false))
    }
    await Promise.all(applied)
  }

  /** leadMs before minute `nextStart`: decide as of that minute and send only pre-warms. */
  async #earlyPass (nextStart: number): Promise<void> {
    if (this.#stopped) return
    const m = this.minuteIndex(nextStart)
    const applied: Array<Promise<void>> = []
    for (const fn of this.#known) {
      const d = this.policy.decide(fn, m * MINUTE_MS)
      const real = this.#real(d)
      if (instancesWanted(real, nextStart) > (this.#last.get(fn)?.warm ?? 0)) applied.push(this.#apply(fn, d, this.#opts.clock.now(), true))
    }
    await Promise.all(applied)
  }

  #real (d: Decision): Decision {
    return { prewarmAt: this.toReal(d.prewarmAt), keepAliveUntil: this.toReal(d.keepAliveUntil), instances: d.instances }
  }

  async #apply (fn: string, d: Decision, nowMs: number, early: boolean): Promise<void> {
    const real = this.#real(d)
    const warm = instancesWanted(real, nowMs, early ? this.leadMs : 0)
    const live: LiveDecision = { ...real, nowMs, warm, early }
    this.#last.set(fn, live)
    this.stats.decisions++
    try {
      await this.actuator.apply(fn, live)
    } catch (err) {
      this.stats.actuatorErrors++
      this.#opts.log.warn({ function: fn, actuator: this.actuator.kind, err: (err as Error).message }, 'prefetch: actuator failed; will try again next minute')
    }
  }

  /** Stops the ticks, waits for the one running, and lets the actuator undo its changes. */
  async stop (): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    this.#opts.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#running
    await this.actuator.close()
  }
}
