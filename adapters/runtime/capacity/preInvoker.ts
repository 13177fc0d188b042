import type { Clock, TimerHandle } from '../../../core/clock.js'
import type { PeriodicPredictor } from './periodicPredictor.js'

/** What the pre-invoker drives of a pool (FunctionPool has it; the measurement's model pool too). */
export interface PreInvokeTarget {
  readonly name: string
  readonly warmInstances: number
  /** Holds at least `count` instances (starting missing ones now). */
  setWarmFloor(count: number): void
  /** Stops idle instances beyond the floor now. */
  releaseIdle(): number
  /** Holds or lets go of the guarantee's reservation (kept warm and owed by the box while held). */
  holdReservation?(held: boolean): void
}

export type PreInvokeOutcome = 'hit' | 'late' | 'missed'

export interface PreInvokerOptions {
  target: PreInvokeTarget
  predictor: PeriodicPredictor
  clock: Clock
  /** Warm this long before the earliest expected arrival: at least the instance's cold start. */
  leadMs: number
  /** After the latest expected arrival (or the burst's end), keep the instance this long before letting it go. */
  graceMs: number
  /** Counts each expected burst: found an instance ready (hit), found it still starting or none (late), or did not come (missed). */
  onOutcome?: (o: PreInvokeOutcome) => void
}

/**
 * Pre-invocation (Real-time Serverless, Nguyen et al., WoSC 2019): for a function whose arrivals are periodic
 * (periodicPredictor.ts), an instance (and the guarantee's reservation) is held only from leadMs before each expected
 * burst until graceMs after it, instead of all the time; between bursts the box can give the capacity to others.
 * While the function is not periodic (too few gaps, or an arrival off period) it holds the reservation all the
 * time, as without pre-invocation. When the time between two bursts is shorter than lead + grace + the burst, the
 * instance is never let go (nothing to save). Pure apart from the injected clock.
 */
export class PreInvoker {
  readonly #o: PreInvokerOptions
  readonly #fn: string
  #timer: TimerHandle | undefined
  /** fallback: not periodic, the pool as without pre-invocation (the reservation held); warm: around a burst; released: between bursts. */
  #state: 'fallback' | 'warm' | 'released' = 'fallback'
  #windowTo = -Infinity
  #seenInWindow = false
  #closed = false
  hits = 0
  late = 0
  missed = 0
  /** Times the instance was let go between bursts. */
  releases = 0

  constructor (o: PreInvokerOptions) {
    this.#o = o
    this.#fn = o.target.name
  }

  /** Whether the reservation is held now (not only between bursts of a periodic function). */
  get holding (): boolean { return this.#state !== 'released' }
  get state (): 'fallback' | 'warm' | 'released' { return this.#state }

  /** An arrival of the function (call before it is served). */
  arrived (nowMs: number): void {
    const { predictor, target } = this.#o
    const inWindow = nowMs <= this.#windowTo + predictor.burstMs
    if (inWindow && !this.#seenInWindow) {
      this.#seenInWindow = true
      if (target.warmInstances > 0) { this.hits++; this.#o.onOutcome?.('hit') } else { this.late++; this.#o.onOutcome?.('late') }
    }
    const wasPeriodic = predictor.period(this.#fn) !== undefined
    predictor.observe(this.#fn, nowMs, 1)
    // Off period (or not periodic yet): hold, as without pre-invocation.
    if (!inWindow || !wasPeriodic) this.#set('fallback')
    this.#plan(nowMs)
  }

  #plan (nowMs: number): void {
    if (this.#closed) return
    this.#o.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    const w = this.#o.predictor.nextWindow(this.#fn, nowMs + this.#o.predictor.burstMs)
    if (w === undefined) { this.#set('fallback'); return }
    const releaseAt = Math.max(nowMs, this.#windowTo) + this.#o.predictor.burstMs + this.#o.graceMs
    const warmAt = w.fromMs - this.#o.leadMs
    if (warmAt <= releaseAt) {
      // Bursts too close to be worth letting the instance go: keep it through to the next window.
      this.#set('warm')
      this.#armWindow(w.toMs)
      return
    }
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#set('released')
      this.#timer = this.#o.clock.setTimeout(() => {
        this.#set('warm')
        this.#armWindow(w.toMs)
      }, warmAt - this.#o.clock.now())
    }, releaseAt - nowMs)
  }

  /** Expect the burst by toMs (+ burstMs); if none comes, count a miss and plan from the window's end. */
  #armWindow (toMs: number): void {
    this.#windowTo = toMs
    this.#seenInWindow = false
    const end = toMs + this.#o.predictor.burstMs
    this.#timer = this.#o.clock.setTimeout(() => {
      this.#timer = undefined
      if (!this.#seenInWindow) { this.missed++; this.#o.onOutcome?.('missed') }
      this.#plan(this.#o.clock.now())
    }, Math.max(0, end - this.#o.clock.now()))
  }

  #set (state: 'fallback' | 'warm' | 'released'): void {
    if (state === this.#state) return
    this.#state = state
    const t = this.#o.target
    t.holdReservation?.(state !== 'released')
    if (state === 'warm') {
      t.setWarmFloor(1)
    } else {
      t.setWarmFloor(0)
      if (state === 'released') { this.releases++; t.releaseIdle() }
    }
  }

  close (): void {
    this.#closed = true
    this.#o.clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
