/**
 * A scaler decides how many instances one function should have. It is a pure object: it does no I/O and reads
 * no clock; the live pool (functionPool.ts) and the request-level simulator (../sim/requestSim.ts) both feed it
 * the same events with their own time and ask it the same questions, so the simulator runs the live decisions.
 */
export interface PoolView {
  /** Requests holding a slot on an instance. */
  inFlight: number
  /** Requests waiting for a slot. */
  waiting: number
  /** Instances ready to serve. */
  ready: number
  /** Instances starting (a cold start under way). */
  starting: number
}

export type ScalerKind = 'reactive' | 'kpa' | 'fixed' | 'slo'

export interface Scaler {
  readonly kind: ScalerKind
  /** How often tick() should run, in ms; undefined when the scaler only reacts to requests. */
  readonly periodMs: number | undefined
  /**
   * At a tick, idle instances above keep() that have been idle this long (ms) are stopped; undefined: they wait
   * for their keep-alive (functions.<name>.keepAliveMs), as the reactive pool's do.
   */
  readonly reapIdleMs: number | undefined
  onArrival (nowMs: number): void
  /** A request finished (served: its service time; refused or failed: undefined). */
  onComplete (nowMs: number, serviceMs: number | undefined): void
  /**
   * A request got its slot after waiting waitMs (the SLO sizer's feedback price counts it); optional. `startup`: it
   * arrived before the function had ever had an instance ready.
   */
  onWait?: (nowMs: number, waitMs: number, startup?: boolean) => void
  tick (nowMs: number, view: PoolView): void
  /** Instances (ready + starting) wanted now: the pool starts more up to this. */
  target (view: PoolView): number
  /** Idle instances the pool keeps standing. */
  keep (): number
}

/** Today's pool: an instance per `concurrency` requests in flight or waiting; idle ones go at keep-alive. */
export class ReactiveScaler implements Scaler {
  readonly kind = 'reactive'
  readonly periodMs = undefined
  readonly reapIdleMs = undefined
  readonly #concurrency: number
  constructor (concurrency: number) { this.#concurrency = concurrency }
  onArrival (): void {}
  onComplete (): void {}
  tick (): void {}
  target (view: PoolView): number { return Math.ceil((view.inFlight + view.waiting) / this.#concurrency) }
  keep (): number { return 0 }
}

/** A fixed pool of `instances`, started at once and never reaped. */
export class FixedScaler implements Scaler {
  readonly kind = 'fixed'
  readonly periodMs = undefined
  readonly reapIdleMs = undefined
  readonly #n: number
  constructor (instances: number) { this.#n = instances }
  onArrival (): void {}
  onComplete (): void {}
  tick (): void {}
  target (): number { return this.#n }
  keep (): number { return this.#n }
}
