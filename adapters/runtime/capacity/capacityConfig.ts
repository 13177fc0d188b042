import { availableParallelism, totalmem } from 'node:os'
import type { Clock } from '../../../core/clock.js'
import { CAPACITY_DEFAULT_IDLE_SECONDS, DEFAULT_KEEP_ALIVE_MS, type Config, type FunctionConfig } from '../../../core/config/schema.js'
import { IotlessError } from '../../../core/errors.js'
import type { Logger } from '../../../core/log.js'
import type { Metrics } from '../../../core/metrics.js'
import { BoxAllocator } from './boxAllocator.js'
import { detectCpuQuota, type CpuQuota } from './cpuQuota.js'
import { createScaler } from './createScaler.js'
import { FunctionPlanner } from './functionPlanner.js'
import { GuaranteeGate } from './guaranteeGate.js'
import { reservationFor } from './reservation.js'
import type { ScalerKind } from './scaler.js'
import { SloScaler, type Slo } from './sloScaler.js'
import { BOX_WARM_PRICE, WarmPrice } from './warmPrice.js'

export type CapacityConfig = Config['capacity']

/** LaSS's objective, for a guarantee given without an slo. */
export const DEFAULT_SLO: Readonly<Slo> = Object.freeze({ waitMs: 100, percentile: 0.95 })

export interface Machine { cpus: number; memoryMb: number }

export function thisMachine (): Machine {
  return { cpus: availableParallelism(), memoryMb: Math.floor(totalmem() / 2 ** 20) }
}

/** Capacity units of the box: capacity.instances, or (`machine`) what its CPUs and memory hold after the reserves; undefined: no limit. */
export function boxInstances (cap: CapacityConfig, machine: Machine): number | undefined {
  if (cap.instances === undefined) return undefined
  if (cap.instances !== 'machine') return cap.instances
  const byCpu = (machine.cpus - cap.reserveCpus) / cap.cpusPerInstance
  const byMem = (machine.memoryMb - cap.reserveMemoryMb) / cap.memoryMbPerInstance
  return Math.max(0, Math.floor(Math.min(byCpu, byMem)))
}

/** Instances each guarantee needs, and every way the set cannot be honoured, one line each naming the field. */
export function checkGuarantees (functions: Record<string, FunctionConfig>, box: number | undefined): { reserved: Map<string, number>; issues: string[] } {
  const reserved = new Map<string, number>()
  const issues: string[] = []
  for (const [name, fn] of Object.entries(functions)) {
    if (fn.guarantee === undefined) continue
    if (fn.serviceMs === undefined) {
      issues.push(`functions.${name}.serviceMs: a guarantee (functions.${name}.guarantee) needs the expected service time to be checked at start-up`)
      continue
    }
    const r = reservationFor(fn.guarantee, fn.slo ?? DEFAULT_SLO, fn.serviceMs, fn.concurrency, fn.maxScale)
    if (!r.met) issues.push(`functions.${name}.guarantee.ratePerSec: cannot be honoured: ${r.reason}`)
    else reserved.set(name, r.instances)
  }
  if (box !== undefined) {
    let sum = 0
    for (const n of reserved.values()) sum += n
    if (sum > box) {
      issues.push(`functions.*.guarantee: the guarantees need ${sum} instances (${[...reserved].map(([n, c]) => `${n}: ${c}`).join(', ')}) but capacity.instances gives the box ${box}`)
    }
  }
  return { reserved, issues }
}

export interface PoolCapacity {
  planner: FunctionPlanner
  box: BoxAllocator | undefined
  cpuQuota: CpuQuota | undefined
  gate: GuaranteeGate | undefined
  slo: Slo | undefined
}

/**
 * Builds the capacity side of the local pool from the config, once, at start-up: the box (when capacity.instances
 * is set), the deflation backend (cgroup v1 cpu, or none with one log line), a planner per function, and the start-up
 * checks (CONFIG_INVALID listing every guarantee that cannot be honoured).
 */
export class Capacity {
  readonly box: BoxAllocator | undefined
  readonly cpuQuota: CpuQuota | undefined
  /** The warm floor's feedback price, one for the box's SLO-sized functions (capacity.attainmentTarget > 0). */
  readonly warmPrice: WarmPrice | undefined
  readonly #config: Config
  readonly #reserved: Map<string, number>
  readonly #log: Logger
  readonly #metrics: Metrics | undefined
  readonly #clock: Clock
  /** The warm price's miss counts already exported (the counters move by the difference). */
  #exported = { charged: 0, startup: 0 }

  constructor (config: Config, opts: { clock: Clock; log: Logger; metrics?: Metrics | undefined; machine?: Machine }) {
    this.#config = config
    this.#log = opts.log
    this.#metrics = opts.metrics
    this.#clock = opts.clock
    const cap = config.capacity
    const units = boxInstances(cap, opts.machine ?? thisMachine())
    const { reserved, issues } = checkGuarantees(config.functions, units)
    if (units === 0) issues.push(`capacity.instances: the machine holds no instance after the reserves (capacity.reserveCpus ${cap.reserveCpus}, capacity.reserveMemoryMb ${cap.reserveMemoryMb})`)
    if (issues.length > 0) throw new IotlessError('CONFIG_INVALID', `capacity cannot be honoured:\n${issues.map((i) => `  ${i}`).join('\n')}`)
    this.#reserved = reserved
    // Bounded by two sizer periods (the floor's horizon) and the longest keep-alive of the functions (the reactive pool's keep).
    const minPrice = 2 * cap.periodMs / 1000
    let keepAliveMs = 0
    for (const fn of Object.values(config.functions)) keepAliveMs = Math.max(keepAliveMs, fn.keepAliveMs)
    if (cap.attainmentTarget > 0 && cap.idleSecondsPerColdStart !== CAPACITY_DEFAULT_IDLE_SECONDS) {
      // A price set by hand that the default feedback price would silently replace.
      opts.log.warn({ code: 'CONFIG_IGNORED', field: 'capacity.idleSecondsPerColdStart' }, `capacity.idleSecondsPerColdStart ${cap.idleSecondsPerColdStart} is not used while capacity.attainmentTarget is ${cap.attainmentTarget} (the warm floor's price is set by feedback); set capacity.attainmentTarget: 0 to use the fixed price`)
    }
    this.warmPrice = cap.attainmentTarget > 0 ? new WarmPrice({ ...BOX_WARM_PRICE, keepSteps: 1000, minSeconds: minPrice, maxSeconds: Math.max(minPrice, (keepAliveMs > 0 ? keepAliveMs : DEFAULT_KEEP_ALIVE_MS) / 1000) }) : undefined
    this.box = units === undefined ? undefined : new BoxAllocator({ capacity: units, clock: opts.clock, replanMs: 50 })
    this.cpuQuota = this.box !== undefined && cap.deflation
      ? detectCpuQuota({ mount: cap.cgroupMount, group: `iotless-${process.pid}`, cpusPerInstance: cap.cpusPerInstance, log: opts.log })
      : undefined
    if (this.box !== undefined) {
      const box = this.box
      box.onShare = (over) => {
        const last = box.overloads[box.overloads.length - 1]
        if (over && last !== undefined && last.allocatedAt === opts.clock.now()) this.#metrics?.capacityReallocation.observe((last.allocatedAt - last.startedAt) / 1000)
        for (const p of box.planners) this.#metrics?.capacityAllocation.set({ function: p.name }, p.allocation)
      }
    }
  }

  /** What FunctionPool takes for function `name`. */
  forFunction (name: string, fn: FunctionConfig): PoolCapacity {
    const cap = this.#config.capacity
    const kind: ScalerKind = fn.scaler ?? (fn.slo !== undefined ? 'slo' : 'reactive')
    const slo = fn.slo ?? (fn.guarantee !== undefined ? DEFAULT_SLO : undefined)
    const scaler = createScaler({
      kind,
      concurrency: fn.concurrency,
      maxScale: fn.maxScale,
      slo: slo ?? DEFAULT_SLO,
      sloSettings: { periodMs: cap.periodMs, longWindowMs: cap.longWindowMs, burstWindowMs: cap.burstWindowMs, holdMs: cap.holdMs, idleSecondsPerColdStart: cap.idleSecondsPerColdStart, burstFactor: cap.burstFactor, replenishMs: cap.replenishMs, attainmentTarget: cap.attainmentTarget },
      warmPrice: this.warmPrice
    })
    const planner = new FunctionPlanner({ name, concurrency: fn.concurrency, maxScale: fn.maxScale, scaler, weight: fn.weight, reservedInstances: this.#reserved.get(name) ?? 0, minCpuShare: cap.minCpuShare })
    this.box?.add(planner)
    return { planner, box: this.box, cpuQuota: this.cpuQuota, gate: fn.guarantee === undefined ? undefined : new GuaranteeGate(fn.guarantee), slo }
  }

  /** The box's feedback price, its balance and its misses (charged, start-up) as metrics; nothing without one. */
  #exportWarmPrice (): void {
    const w = this.warmPrice
    const m = this.#metrics
    if (w === undefined || m === undefined) return
    m.capacityWarmPrice.set(w.seconds(this.#clock.now()))
    m.capacityWarmPriceBalance.set(w.balance)
    m.capacityWarmPriceMisses.inc({ accounting: 'charged' }, w.chargedMisses - this.#exported.charged)
    m.capacityWarmPriceMisses.inc({ accounting: 'startup' }, w.startupMisses - this.#exported.startup)
    this.#exported = { charged: w.chargedMisses, startup: w.startupMisses }
  }

  /** After each scaler tick: metrics, and the log lines an operator needs (once each). */
  watch (pool: { name: string; planner: FunctionPlanner; warmInstances: number; startingInstances: number; cpuShare: number; onTick: ((nowMs: number) => void) | undefined; prewarm: (count: number) => void }): void {
    let saidUnknown = false
    let saidUnmeetable = false
    const p = pool.planner
    const m = this.#metrics
    const update = (): void => {
      const view = { inFlight: 0, waiting: 0, ready: pool.warmInstances, starting: pool.startingInstances }
      m?.capacityWanted.set({ function: pool.name }, p.wanted(view))
      m?.capacityInstances.set({ function: pool.name }, pool.warmInstances + pool.startingInstances)
      m?.capacityCpuShare.set({ function: pool.name }, pool.cpuShare)
      this.#exportWarmPrice()
      const s = p.scaler
      if (s instanceof SloScaler) {
        if (s.serviceUnknown && !saidUnknown) {
          saidUnknown = true
          this.#log.info({ function: pool.name }, 'service time not measured yet: the function runs best-effort (reactive) until its first invocation finishes')
        }
        if (s.unmeetable && !saidUnmeetable) {
          saidUnmeetable = true
          this.#log.warn({ function: pool.name, ratePerSec: s.lastRatePerSec, serviceMs: s.serviceMs, maxScale: p.maxScale, slo: s.slo }, `slo cannot be met: ${s.lastRatePerSec.toFixed(2)}/s at ${(s.serviceMs ?? 0).toFixed(1)} ms needs more than functions.${pool.name}.maxScale = ${p.maxScale} instances`)
        }
        if (!s.unmeetable) saidUnmeetable = false
      }
    }
    pool.onTick = update
    // What the planner wants before any request (a guarantee's reservation, a fixed pool) starts now, as the simulator's does.
    const initial = p.target({ inFlight: 0, waiting: 0, ready: 0, starting: 0 })
    if (initial > 0) pool.prewarm(initial)
    update()
  }
}
