import { ManualClock } from '../../core/clock.js'
import { PeriodicPredictor } from '../../adapters/runtime/capacity/periodicPredictor.js'
import { PreInvoker, type PreInvokeTarget } from '../../adapters/runtime/capacity/preInvoker.js'

export type PreInvokeMode = 'reserved' | 'preinvoke' | 'reactive'

export interface PreInvokeModelOptions {
  mode: PreInvokeMode
  coldStartMs: number
  serviceMs: number
  /** reactive: idle instances stop after this (the guarantee's reservation is not held). */
  keepAliveMs: number
  leadMs: number
  graceMs: number
  waitMs: number
}

export interface PreInvokeModelResult {
  mode: PreInvokeMode
  arrivals: number
  /** Arrivals that found no ready instance (a cold start, or waiting on one still starting). */
  coldStarts: number
  /** Of those, arrivals that came while the pre-invoker had let the instance go (off the expected phase). */
  coldWhileReleased: number
  /** Arrivals that waited <= waitMs for an instance. */
  withinSlo: number
  /** Instance-seconds held (starting or ready): what the function takes from the box. */
  instanceSeconds: number
  instancesStarted: number
  releases: number
  hits: number
  late: number
  missed: number
}

/**
 * One function's instance on a simulated clock, as the pre-invoker sees a pool: at most one instance (a device that
 * reads once a period needs one), started by the floor or by an arrival, ready after coldStartMs, stopped by
 * releaseIdle or after keepAliveMs idle when nothing holds it. Counts instance-seconds and cold starts.
 */
class ModelPool implements PreInvokeTarget {
  readonly name = 'f'
  #startedAt: number | undefined
  #readyAt = 0
  #busyUntil = -Infinity
  #floor = 0
  #held: boolean
  #idleTimer: { id: number } | undefined
  instanceMs = 0
  started = 0

  constructor (readonly clock: ManualClock, readonly o: PreInvokeModelOptions, held: boolean) { this.#held = held }

  get warmInstances (): number { return this.#startedAt !== undefined && this.clock.now() >= this.#readyAt ? 1 : 0 }

  #start (): void {
    if (this.#startedAt !== undefined) return
    this.#startedAt = this.clock.now()
    this.#readyAt = this.#startedAt + this.o.coldStartMs
    this.started++
  }

  #stop (): void {
    if (this.#startedAt === undefined) return
    this.instanceMs += this.clock.now() - this.#startedAt
    this.#startedAt = undefined
  }

  setWarmFloor (count: number): void { this.#floor = count; if (count > 0) this.#start() }
  releaseIdle (): number {
    if (this.#floor > 0 || this.#held || this.#startedAt === undefined || this.clock.now() < this.#busyUntil) return 0
    this.#stop()
    return 1
  }

  holdReservation (held: boolean): void { this.#held = held; if (held) this.#start() }

  /** An arrival now: returns how long it waited for the instance. */
  invoke (): number {
    const now = this.clock.now()
    this.#start()
    const startAt = Math.max(now, this.#readyAt, this.#busyUntil)
    this.#busyUntil = startAt + this.o.serviceMs
    this.clock.clearTimeout(this.#idleTimer)
    this.#idleTimer = this.clock.setTimeout(() => {
      if (this.#floor === 0 && !this.#held) this.#stop()
    }, this.#busyUntil - now + this.o.keepAliveMs)
    return startAt - now
  }

  finish (): void { this.#stop() }
}

/** Plays one function's arrival times (ms, ascending) through the model in `mode`. */
export function runPreInvokeModel (arrivalsMs: readonly number[], o: PreInvokeModelOptions): PreInvokeModelResult {
  const first = arrivalsMs[0] ?? 0
  const clock = new ManualClock(first - 1)
  const pool = new ModelPool(clock, o, o.mode !== 'reactive')
  // The guarantee's reservation is started at boot, before the first arrival.
  if (o.mode !== 'reactive') { pool.holdReservation(true); clock.advance(o.coldStartMs); clock.advance(0) }
  const pre = o.mode === 'preinvoke' ? new PreInvoker({ target: pool, predictor: new PeriodicPredictor(), clock, leadMs: o.leadMs, graceMs: o.graceMs }) : undefined
  let cold = 0
  let coldReleased = 0
  let within = 0
  const start = clock.now()
  for (const at of arrivalsMs) {
    if (at > clock.now()) clock.advance(at - clock.now())
    const ready = pool.warmInstances > 0
    if (!ready && pre?.state === 'released') coldReleased++
    pre?.arrived(clock.now())
    const waited = pool.invoke()
    if (!ready) cold++
    if (waited <= o.waitMs) within++
  }
  clock.advance(o.serviceMs)
  pool.finish()
  pre?.close()
  void start
  return {
    mode: o.mode,
    arrivals: arrivalsMs.length,
    coldStarts: cold,
    coldWhileReleased: coldReleased,
    withinSlo: within,
    instanceSeconds: pool.instanceMs / 1000,
    instancesStarted: pool.started,
    releases: pre?.releases ?? 0,
    hits: pre?.hits ?? 0,
    late: pre?.late ?? 0,
    missed: pre?.missed ?? 0
  }
}
