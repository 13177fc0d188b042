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

export interface Reprovision {
  /** Overload start (b's request) to the allocation applied: quotas written, or stops sent. */
  allocationMs: number
  /** Overload start to b's new instance ready (includes its cold start). */
  instanceReadyMs: number
  deflated: boolean
}

const ev = (data: unknown): { headers: Record<string, string>; body: Buffer } => ({ headers: toBinaryHeaders({ specversion: '1.0', id: 'r', source: 'bench', type: 'bench', datacontenttype: 'application/json' }), body: Buffer.from(JSON.stringify(data)) })

/**
 * The live overload: a box of 2 instances, function a holding both with work in flight, then function b's first
 * request. The box re-shares at once (a: 1, b: 1), a's instances are deflated to half through cgroup v1 (when
 * writable; else a stops one when it is idle) and b starts its instance.
 */
export async function measureReprovision (runs: number): Promise<Reprovision[]> {
  const log = createLogger({ level: 'error' })
  const out: Reprovision[] = []
  const quota = detectCpuQuota({ mount: '/sys/fs/cgroup/cpu', group: `iotless-bench-${process.pid}`, cpusPerInstance: 1, log })
  for (let r = 0; r < runs; r++) {
    const box = new BoxAllocator({ capacity: 2, clock: systemClock, replanMs: 50 })
    const make = (name: string): FunctionPool => {
      const planner = new FunctionPlanner({ name, concurrency: 1, maxScale: 4, scaler: new ReactiveScaler(1), weight: 8, reservedInstances: 0, minCpuShare: 0.5 })
      box.add(planner)
      return new FunctionPool({ name, modulePath: TRACE_FUNCTION, config: {}, env: process.env, concurrency: 1, maxScale: 4, keepAliveMs: 600_000, initTimeoutMs: 60_000, timeoutMs: 60_000, clock: systemClock, log, planner, box, cpuQuota: quota })
    }
    const a = make('a')
    const b = make('b')
    try {
      await Promise.all([a.invoke(ev({})), a.invoke(ev({}))])
      while (a.warmInstances < 2) await new Promise((resolve) => setTimeout(resolve, 5))
      const busy = [a.invoke(ev({ sleepMs: 3000 })), a.invoke(ev({ sleepMs: 3000 }))]
      const t0 = performance.now()
      const call = b.invoke(ev({}))
      // The re-share and the quota writes run inside b's dispatch, before it yields.
      const allocationMs = performance.now() - t0
      while (b.warmInstances < 1) await new Promise((resolve) => setTimeout(resolve, 1))
      const instanceReadyMs = performance.now() - t0
      out.push({ allocationMs, instanceReadyMs, deflated: a.cpuShare < 1 && quota !== undefined })
      await call
      await Promise.all(busy)
    } finally {
      box.stop()
      await Promise.all([a.close(), b.close()])
    }
  }
  quota?.close?.()
  return out
}
