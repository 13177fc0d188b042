import type { PoolView, Scaler } from './scaler.js'

export interface FunctionPlannerOptions {
  name: string
  concurrency: number
  maxScale: number
  scaler: Scaler
  /** functions.<name>.weight: 1..256, default 8. */
  weight: number
  /** Instances the function's guarantee needs (0 without one): kept warm and owed before any sharing. */
  reservedInstances: number
  /** The lowest CPU share deflation may leave an instance: LaSS deflates to half, 0.5. */
  minCpuShare: number
}

/**
 * One function's capacity decisions: its scaler's wish, raised to the prefetch floor and the guarantee's
 * reservation, capped at maxScale and at the share of the box the allocator gave it. Pure, like the scaler: the
 * live pool and the simulator ask it the same questions.
 */
export class FunctionPlanner {
  readonly name: string
  readonly concurrency: number
  readonly maxScale: number
  readonly scaler: Scaler
  readonly weight: number
  readonly reservedInstances: number
  readonly minCpuShare: number
  /**
   * Whether the reservation is held now: true unless pre-invocation (preInvoker.ts) let it go between two bursts of a
   * periodic function, when the box may give those instances to others.
   */
  reservationHeld = true
  /** Prefetch's pre-warm floor: the larger of it and the scaler's number wins. */
  floor = 0
  /** Capacity units (instances at full CPU) the box allocator grants; Infinity while the box is not overloaded. */
  allocation = Infinity
  /** Called when the allocation changed, so the pool can deflate, stop or start instances. */
  onAllocation: (() => void) | undefined

  constructor (o: FunctionPlannerOptions) {
    this.name = o.name
    this.concurrency = o.concurrency
    this.maxScale = o.maxScale
    this.scaler = o.scaler
    this.weight = o.weight
    this.reservedInstances = Math.min(o.maxScale, o.reservedInstances)
    this.minCpuShare = o.minCpuShare
  }

  /** The reservation in force now: reservedInstances while held, else 0. */
  get reserved (): number { return this.reservationHeld ? this.reservedInstances : 0 }

  /** Instances wanted with no box limit. */
  wanted (view: PoolView): number {
    return Math.min(this.maxScale, Math.max(this.floor, this.reserved, this.scaler.target(view)))
  }

  /** Instances to have now (ready + starting): the pool starts more up to this. */
  target (view: PoolView): number {
    // New instances start at full CPU, so a share buys whole instances; a share below one (but at least the lowest
    // deflated share) still buys one, deflated, rather than none.
    const whole = Math.floor(this.allocation + 1e-9)
    return Math.min(this.wanted(view), Math.max(whole, this.allocation + 1e-9 >= this.minCpuShare ? 1 : 0))
  }

  /** Idle instances the pool keeps. */
  keep (): number {
    return Math.min(this.maxScale, Math.max(this.floor, this.reserved, this.scaler.keep()), this.maxInstances())
  }

  /** The most instances the allocation lets stand, each deflated to at least minCpuShare. */
  maxInstances (): number {
    return this.allocation === Infinity ? this.maxScale : Math.floor(this.allocation / this.minCpuShare + 1e-9)
  }

  /** The CPU share each of `instances` instances gets: 1 within the allocation, less (deflated) above it. */
  cpuShare (instances: number): number {
    if (instances <= 0 || instances <= this.allocation) return 1
    return Math.max(this.minCpuShare, this.allocation / instances)
  }
}
