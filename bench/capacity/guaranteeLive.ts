import { setMaxListeners } from 'node:events'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { systemClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import type { Logger } from '../../core/log.js'
import { createLogger } from '../../core/log.js'
import { BoxAllocator } from '../../adapters/runtime/capacity/boxAllocator.js'
import { FunctionPlanner } from '../../adapters/runtime/capacity/functionPlanner.js'
import { GuaranteeGate, type Guarantee } from '../../adapters/runtime/capacity/guaranteeGate.js'
import { reservationFor } from '../../adapters/runtime/capacity/reservation.js'
import { ReactiveScaler } from '../../adapters/runtime/capacity/scaler.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { TRACE_FUNCTION } from '../../adapters/runtime/sim/liveReplay.js'
import { SpareInstances } from '../../adapters/runtime/spareInstances.js'
import { seededRandom } from '../../core/seededRandom.js'

export interface GuaranteeLiveOptions {
  /** Instances the box holds. */
  boxInstances: number
  /** How long the load runs, ms. */
  durationMs: number
  /** Best-effort functions sharing the box. */
  hogs: number
  hogServiceMs: number
  /** The hogs together are offered this many times the box's capacity (boxInstances / hogServiceMs). */
  offeredTimesBox: number
  guarantee: Guarantee
  guaranteedServiceMs: number
  /** The guaranteed function is itself offered this many times its guaranteed rate (its own overflow). */
  guaranteedOfferedTimes: number
  /** The objective: wait for a slot at most this, ms. */
  waitMs: number
  seed?: number
  log?: Logger
  /**
   * true (default): the pool gets the guarantee's gate, so admitted invocations have their own queue and the reserved
   * slots (guaranteedBreaker.ts). false, the baseline: the reservation is kept warm but admitted and overflow share
   * one FIFO (the pool before it); the bench's own token bucket tells which invocations were within the guarantee.
   */
  priority?: boolean
  /** Start instances from a spare process (capacity.spareInstances: the default with a box); default true. */
  spares?: boolean
}

export interface GuaranteeLiveResult {
  reservedInstances: number
  /** Invocations of the guaranteed function within its guarantee, and how many of those waited <= waitMs. */
  admitted: number
  admittedWithin: number
  admittedFailed: number
  admittedWaitMsMax: number
  admittedWaitMsP99: number
  /** Admitted invocations that missed the SLO although a slot was free when they arrived: the process itself was late (a starved event loop), not the queue. */
  admittedMissedWithSlotFree: number
  /** The guaranteed function's own invocations above its guarantee (best effort). */
  overflow: number
  overflowWithin: number
  overflowRefused: number
  hogOffered: number
  hogServed: number
  hogRefused: number
  hogWithin: number
  /** Hog work offered per second / what the box serves per second. */
  offeredTimesBox: number
  overloaded: boolean
  /** Instances started in all, and how many of them from a spare. */
  spawns: number
  spareStarts: number
  /** The bench process's event-loop delay, ms: the instances' forks and the hogs' refusals run on it. */
  eventLoopDelayMsMax: number
  eventLoopDelayMsP99: number
}

const ev = (data: unknown): { headers: Record<string, string>; body: Buffer } => ({ headers: toBinaryHeaders({ specversion: '1.0', id: 'g', source: 'bench', type: 'bench', datacontenttype: 'application/json' }), body: Buffer.from(JSON.stringify(data)) })

/** Poisson arrival times at `ratePerSec` over [0, durationMs). */
function poisson (ratePerSec: number, durationMs: number, rand: () => number): number[] {
  const out: number[] = []
  for (let t = -Math.log(1 - rand()) * 1000 / ratePerSec; t < durationMs; t += -Math.log(1 - rand()) * 1000 / ratePerSec) out.push(t)
  return out
}

/**
 * The guarantee, live: real child processes on a box of `boxInstances`; a guaranteed function (reactive scaler, its
 * reservation kept warm) offered `guaranteedOfferedTimes` its guaranteed rate, and `hogs` best-effort functions
 * offered `offeredTimesBox` the box's capacity, all Poisson. Reports how many of the guaranteed function's
 * within-guarantee invocations waited <= waitMs (the pool's own measure: time to the answer less the service time).
 */
export async function guaranteeLive (o: GuaranteeLiveOptions): Promise<GuaranteeLiveResult> {
  const log = o.log ?? createLogger({ level: 'error' })
  const rand = seededRandom(o.seed ?? 1)
  const box = new BoxAllocator({ capacity: o.boxInstances, clock: systemClock, replanMs: 50 })
  const slo = { waitMs: o.waitMs, percentile: 0.95 }
  const maxScale = o.boxInstances
  const reservation = reservationFor(o.guarantee, slo, o.guaranteedServiceMs, 1, maxScale)
  if (!reservation.met) throw new Error(`the guarantee cannot be met: ${reservation.reason}`)
  const spares = o.spares === false ? undefined : new SpareInstances({ count: 1, env: process.env, clock: systemClock })
  const make = (name: string, reserved: number, gate?: GuaranteeGate): FunctionPool => {
    const planner = new FunctionPlanner({ name, concurrency: 1, maxScale, scaler: new ReactiveScaler(1), weight: 8, reservedInstances: reserved, minCpuShare: 0.5 })
    box.add(planner)
    return new FunctionPool({ name, modulePath: TRACE_FUNCTION, config: {}, env: process.env, concurrency: 1, maxScale, keepAliveMs: 600_000, initTimeoutMs: 60_000, timeoutMs: 60_000, clock: systemClock, log, planner, box, gate, slo, spares })
  }
  const gate = new GuaranteeGate(o.guarantee)
  const priority = o.priority !== false
  const g = make('guaranteed', reservation.instances, priority ? gate : undefined)
  const hogs = Array.from({ length: o.hogs }, (_, i) => make(`hog-${i}`, 0))
  const res: GuaranteeLiveResult = {
    reservedInstances: reservation.instances, admitted: 0, admittedWithin: 0, admittedFailed: 0, admittedWaitMsMax: 0, admittedWaitMsP99: 0, admittedMissedWithSlotFree: 0,
    overflow: 0, overflowWithin: 0, overflowRefused: 0, hogOffered: 0, hogServed: 0, hogRefused: 0, hogWithin: 0, offeredTimesBox: 0, overloaded: false,
    spawns: 0, spareStarts: 0, eventLoopDelayMsMax: 0, eventLoopDelayMsP99: 0
  }
  const loop = monitorEventLoopDelay({ resolution: 10 })
  const admittedWaits: number[] = []
  try {
    // The reservation is started at boot (capacityConfig.ts watch): wait for it, as a running box has it.
    g.prewarm(reservation.instances)
    while (g.warmInstances < reservation.instances) await new Promise((resolve) => setTimeout(resolve, 10))
    const hogRate = o.offeredTimesBox * o.boxInstances * 1000 / o.hogServiceMs / o.hogs
    const gRate = o.guarantee.ratePerSec * o.guaranteedOfferedTimes
    const plan: Array<{ at: number; pool: FunctionPool; hog: boolean }> = []
    for (const at of poisson(gRate, o.durationMs, rand)) plan.push({ at, pool: g, hog: false })
    for (const h of hogs) for (const at of poisson(hogRate, o.durationMs, rand)) plan.push({ at, pool: h, hog: true })
    plan.sort((x, y) => x.at - y.at)
    res.hogOffered = plan.filter((p) => p.hog).length
    res.offeredTimesBox = (res.hogOffered * o.hogServiceMs / o.durationMs) / o.boxInstances
    const calls: Array<Promise<void>> = []
    const hogsDone = new AbortController()
    setMaxListeners(0, hogsDone.signal)
    loop.enable()
    const t0 = performance.now()
    for (const p of plan) {
      const wait = p.at - (performance.now() - t0)
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
      if (box.overloaded) res.overloaded = true
      const started = performance.now()
      const serviceMs = p.hog ? o.hogServiceMs : o.guaranteedServiceMs
      // The baseline's pool has no gate: the same token bucket, asked at the same moment, classifies here.
      const mine = !p.hog && !priority ? gate.admit(Date.now()) : undefined
      calls.push(p.pool.invoke(ev({ sleepMs: serviceMs }), p.hog ? hogsDone.signal : undefined).then((r0) => {
        const r = mine === undefined ? r0 : { ...r0, admitted: mine }
        const waited = performance.now() - started - (r.serviceMs ?? 0)
        const within = waited <= o.waitMs
        if (p.hog) { res.hogServed++; if (within) res.hogWithin++; return }
        if (r.admitted === true) {
          res.admitted++
          admittedWaits.push(waited)
          if (within) res.admittedWithin++
          // coldStart: every slot was taken when it arrived (it queued, or waited for an instance to start).
          else if (!r.coldStart) res.admittedMissedWithSlotFree++
        } else { res.overflow++; if (within) res.overflowWithin++ }
      }, () => {
        if (p.hog) { res.hogRefused++; return }
        res.overflowRefused++
      }))
    }
    // The hogs' queues would take seconds to drain: what still waits once the load is over is dropped (refused).
    setTimeout(() => { hogsDone.abort(new Error('load over')) }, 200).unref()
    await Promise.all(calls)
    loop.disable()
    res.eventLoopDelayMsMax = loop.max / 1e6
    res.eventLoopDelayMsP99 = loop.percentile(99) / 1e6
    res.spawns = [g, ...hogs].reduce((n, p) => n + p.spawnCount, 0)
    res.spareStarts = spares?.taken ?? 0
    // A failed invocation has no result to say whether it was admitted: the gate's count does. Any admitted
    // invocation without a result failed, and counts against the guarantee.
    res.admittedFailed = gate.admitted - res.admitted
    res.overflowRefused -= res.admittedFailed
  } finally {
    box.stop()
    spares?.close()
    await Promise.all([g.close(), ...hogs.map((h) => h.close())])
  }
  admittedWaits.sort((a, b) => a - b)
  res.admittedWaitMsMax = admittedWaits[admittedWaits.length - 1] ?? 0
  res.admittedWaitMsP99 = admittedWaits[Math.min(admittedWaits.length - 1, Math.floor(admittedWaits.length * 0.99))] ?? 0
  return res
}
