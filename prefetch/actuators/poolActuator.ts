import type { Actuator, LiveDecision } from './actuator.js'

/** The part of FunctionPool the pool actuator drives (adapters/runtime/functionPool.ts). */
export interface WarmablePool {
  readonly name: string
  setWarmFloor(count: number): void
  releaseIdle(): number
}

/**
 * Local pool actuator: while the policy wants `warm` instances the pool's warm floor is `warm` (missing instances
 * start now, keep-alive does not reap below it); when it wants none, the floor drops to 0 and idle instances stop
 * (so do idle instances beyond a floor of 1 or more), so the pool's own keepAliveMs only matters for instances
 * started between two decisions. The pool never stops on release what its scaler or a held reservation keeps, nor
 * an instance idle for less than a start takes now (FunctionPool.releaseIdle): that one goes when the time is up.
 */
export class PoolActuator implements Actuator {
  readonly kind = 'local'
  readonly #pools: ReadonlyMap<string, WarmablePool>

  constructor (pools: Iterable<WarmablePool>) {
    this.#pools = new Map([...pools].map((p) => [p.name, p]))
  }

  apply (fn: string, d: LiveDecision): void {
    const pool = this.#pools.get(fn)
    if (pool === undefined) return
    if (d.early) {
      if (d.warm > 0) pool.setWarmFloor(d.warm)
      return
    }
    pool.setWarmFloor(d.warm)
    // Extra instances exist only while busy (the simulator's model): idle ones beyond the floor stop, once idle as
    // long as a start takes.
    pool.releaseIdle()
  }

  /** Leaves the pools to their own keep-alive. */
  close (): Promise<void> {
    for (const pool of this.#pools.values()) pool.setWarmFloor(0)
    return Promise.resolve()
  }
}
