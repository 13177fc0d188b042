import { performance } from 'node:perf_hooks'
import { systemClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { createLogger } from '../../core/log.js'
import { BoxAllocator } from '../../adapters/runtime/capacity/boxAllocator.js'
import { detectCpuQuota } from '../../adapters/runtime/capacity/cpuQuota.js'
import { FunctionPlanner } from '../../adapters/runtime/capacity/functionPlanner.js'
import { ReactiveScaler } from '../../adapters/runtime/capacity/scaler.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { TRACE_FUNCTION } from '../../adapters/runtime/sim/liveReplay.js'
import { SpareInstances } from '../../adapters/runtime/spareInstances.js'

export interface Reprovision {
  /** Overload start (b's request) to the allocation applied: quotas written, or stops sent. */
  allocationMs: number
  /** Overload start to b's new instance ready (includes its cold start). */
  instanceReadyMs: number
  deflated: boolean
  /** b's instance came from a spare process (node booted ahead of need). */
  fromSpare: boolean
  /**
   * Where b's instance start went, ms: forked (or the spare told to load) -> the process's time origin (fork + exec;
   * for a spare: 0, it was up before) -> main entered (node boot + SDK loaded) -> spec received -> the function's
   * module imported -> listening -> the ready message received by the pool.
   */
  phases?: { exec: number; boot: number; spec: number; import: number; listen: number; readyMessage: number }
}

const ev = (data: unknown): { headers: Record<string, string>; body: Buffer } => ({ headers: toBinaryHeaders({ specversion: '1.0', id: 'r', source: 'bench', type: 'bench', datacontenttype: 'application/json' }), body: Buffer.from(JSON.stringify(data)) })

/**
 * The live overload: a box of 2 instances, function a holding both with work in flight, then function b's first
 * request. The box re-shares at once (a: 1, b: 1), a's instances are deflated to half through cgroup v1 (when
 * writable; else a stops one when it is idle) and b starts its instance.
 */
export async function measureReprovision (runs: number, opts: { spares?: boolean; settleMs?: number } = {}): Promise<Reprovision[]> {
  const log = createLogger({ level: 'error' })
  const out: Reprovision[] = []
  const quota = detectCpuQuota({ mount: '/sys/fs/cgroup/cpu', group: `iotless-bench-${process.pid}`, cpusPerInstance: 1, log })
  for (let r = 0; r < runs; r++) {
    const box = new BoxAllocator({ capacity: 2, clock: systemClock, replanMs: 50 })
    const spares = opts.spares === true ? new SpareInstances({ count: 1, env: process.env, clock: systemClock }) : undefined
    const make = (name: string): FunctionPool => {
      const planner = new FunctionPlanner({ name, concurrency: 1, maxScale: 4, scaler: new ReactiveScaler(1), weight: 8, reservedInstances: 0, minCpuShare: 0.5 })
      box.add(planner)
      return new FunctionPool({ name, modulePath: TRACE_FUNCTION, config: {}, env: process.env, concurrency: 1, maxScale: 4, keepAliveMs: 600_000, initTimeoutMs: 60_000, timeoutMs: 60_000, clock: systemClock, log, planner, box, cpuQuota: quota, spares })
    }
    const a = make('a')
    const b = make('b')
    try {
      await Promise.all([a.invoke(ev({})), a.invoke(ev({}))])
      while (a.warmInstances < 2) await new Promise((resolve) => setTimeout(resolve, 5))
      // A box at rest before the overload: a's instances, and the spare that replaced the one a took, standing for
      // settleMs (0: the overload right after a's own start, while the replacement spare may still be booting).
      if ((opts.settleMs ?? 0) > 0) await new Promise((resolve) => setTimeout(resolve, opts.settleMs))
      const busy = [a.invoke(ev({ sleepMs: 3000 })), a.invoke(ev({ sleepMs: 3000 }))]
      const t0 = performance.now()
      const call = b.invoke(ev({}))
      // The re-share and the quota writes run inside b's dispatch, before it yields.
      const allocationMs = performance.now() - t0
      while (b.warmInstances < 1) await new Promise((resolve) => setTimeout(resolve, 1))
      const instanceReadyMs = performance.now() - t0
      const s = b.lastStart
      const tm = s?.timings
      const phases = s === undefined || tm === undefined
        ? undefined
        : s.fromSpare
          ? { exec: 0, boot: 0, spec: tm.specAt - s.startedAt, import: tm.importedAt - tm.specAt, listen: tm.listeningAt - tm.importedAt, readyMessage: tm.readyAt - tm.listeningAt }
          : { exec: tm.originAt - s.startedAt, boot: tm.mainAt - tm.originAt, spec: tm.specAt - tm.mainAt, import: tm.importedAt - tm.specAt, listen: tm.listeningAt - tm.importedAt, readyMessage: tm.readyAt - tm.listeningAt }
      out.push({ allocationMs, instanceReadyMs, deflated: a.cpuShare < 1 && quota !== undefined, fromSpare: s?.fromSpare === true, ...(phases === undefined ? {} : { phases }) })
      await call
      await Promise.all(busy)
    } finally {
      box.stop()
      spares?.close()
      await Promise.all([a.close(), b.close()])
    }
  }
  quota?.close?.()
  return out
}

/** Both ways side by side, interleaved run by run so the shared machine's load falls on both alike. */
export async function compareReprovision (runs: number, settleMs = 0): Promise<{ fork: Reprovision[]; spare: Reprovision[] }> {
  const fork: Reprovision[] = []
  const spare: Reprovision[] = []
  for (let r = 0; r < runs; r++) {
    fork.push(...await measureReprovision(1, { settleMs }))
    spare.push(...await measureReprovision(1, { spares: true, settleMs }))
  }
  return { fork, spare }
}

export function median (xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const n = s.length
  return n === 0 ? NaN : n % 2 === 1 ? (s[(n - 1) / 2] ?? NaN) : ((s[n / 2 - 1] ?? 0) + (s[n / 2] ?? 0)) / 2
}
