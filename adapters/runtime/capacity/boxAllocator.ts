import type { Clock, TimerHandle } from '../../../core/clock.js'
import { quantize, waterFill } from './fairShare.js'
import type { FunctionPlanner } from './functionPlanner.js'

export interface BoxAllocatorOptions {
  /** Capacity units of the box: instances at full CPU (capacity.instances, or derived from CPUs and memory). */
  capacity: number
  clock: Clock
  /** While overloaded, re-share at most this often, in ms (a burst of wants is one re-share): 50 ms. */
  replanMs: number
}

export interface Overload {
  /** When the sum of wants first passed the capacity. */
  startedAt: number
  /** When the allocation for it was computed and handed to the pools. */
  allocatedAt: number
}

/**
 * The box: when the functions together want more instances than it holds, shares it by weighted max-min
 * (fairShare.ts) and tells each planner its allocation; while they fit, every allocation is Infinity and the
 * allocator costs one addition per change of want. Pure apart from the injected clock (the simulator's or the
 * system's), so the simulator runs the live sharing.
 */
export class BoxAllocator {
  readonly capacity: number
  readonly #clock: Clock
  readonly #replanMs: number
  readonly #planners: FunctionPlanner[] = []
  readonly #wants = new Map<FunctionPlanner, number>()
  #sum = 0
  #overloaded = false
  #timer: TimerHandle | undefined
  #lastPlanAt = -Infinity
  #overloadStartedAt = -1
  #shares = 0
  /** Overloads seen, with the time from their start to the allocation handed out. */
  readonly overloads: Overload[] = []
  /** Called after every re-share while overloaded, and once when the overload ends. */
  onShare: ((overloaded: boolean) => void) | undefined

  constructor (o: BoxAllocatorOptions) {
    this.capacity = o.capacity
    this.#clock = o.clock
    this.#replanMs = o.replanMs
  }

  get overloaded (): boolean { return this.#overloaded }
  get totalWanted (): number { return this.#sum }
  get planners (): readonly FunctionPlanner[] { return this.#planners }

  add (p: FunctionPlanner): void {
    this.#planners.push(p)
    this.#wants.set(p, 0)
  }

  /** A planner's want changed (the pool calls it after each scaling decision). */
  want (p: FunctionPlanner, instances: number): void {
    const old = this.#wants.get(p) ?? 0
    if (old === instances) return
    this.#wants.set(p, instances)
    this.#sum += instances - old
    if (!this.#overloaded) {
      if (this.#sum > this.capacity + 1e-9) {
        this.#overloadStartedAt = this.#clock.now()
        this.#share()
      }
      return
    }
    this.#schedule()
  }

  #schedule (): void {
    if (this.#timer !== undefined) return
    const wait = Math.max(0, this.#lastPlanAt + this.#replanMs - this.#clock.now())
    if (wait === 0) { this.#share(); return }
    this.#timer = this.#clock.setTimeout(() => { this.#timer = undefined; this.#share() }, wait)
  }

  #share (): void {
    const now = this.#clock.now()
    this.#lastPlanAt = now
    if (this.#sum <= this.capacity + 1e-9) {
      if (this.#overloaded) {
        this.#overloaded = false
        for (const p of this.#planners) p.allocation = Infinity
        for (const p of this.#planners) p.onAllocation?.()
        this.onShare?.(false)
      }
      return
    }
    const first = !this.#overloaded
    this.#overloaded = true
    const demands = this.#planners.map((p) => ({ want: this.#wants.get(p) ?? 0, weight: p.weight, reserved: p.reserved }))
    const step = this.#planners.reduce((m, p) => Math.max(m, p.minCpuShare), 0.1)
    const alloc = quantize(waterFill(this.capacity, demands), demands, this.capacity, step, this.#shares++)
    // Lower allocations first, so the capacity they free is there when the raised ones start instances.
    const order = this.#planners.map((p, i) => ({ p, a: alloc[i] ?? 0 })).sort((x, y) => (x.a - x.p.allocation) - (y.a - y.p.allocation))
    for (const { p, a } of order) {
      if (p.allocation === a) continue
      p.allocation = a
      p.onAllocation?.()
    }
    if (first) this.overloads.push({ startedAt: this.#overloadStartedAt, allocatedAt: this.#clock.now() })
    this.onShare?.(true)
  }

  stop (): void { this.#clock.clearTimeout(this.#timer); this.#timer = undefined }
}
