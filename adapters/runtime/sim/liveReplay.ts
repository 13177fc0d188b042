import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { toBinaryHeaders } from '../../../core/cloudEventHttp.js'
import type { FunctionPool } from '../functionPool.js'
import type { RequestTrace } from './requestTrace.js'
import { quantile } from './requestSim.js'

/** Module path of the function liveReplay's pools should run. */
export const TRACE_FUNCTION = fileURLToPath(new URL('./traceFunction.js', import.meta.url))

export interface LiveReplayResult {
  requests: number
  served: number
  failed: number
  /** Failed requests by error code. */
  errors: Record<string, number>
  latencyMsP50: number
  latencyMsP95: number
  /** Instances standing (ready + starting), sampled every sampleMs, integrated. */
  instanceSeconds: number
  maxInstances: number
  spawns: number
  wallSeconds: number
  /** Per request, ms (NaN: failed); in the order of the trace's functions then arrivals. */
  latencies: Float32Array
}

/**
 * Plays a request trace against live pools in real time: each request is sent at its start time (setTimeout from
 * the replay's start) as `{ sleepMs: duration }` (or `{ workMs }` with `cpuBound`) to its function's pool, and
 * its latency is measured from when it was due, so a late timer counts against the pool, not for it.
 */
export async function replayLive (trace: RequestTrace, pools: readonly FunctionPool[], opts: { sampleMs: number; cpuBound?: boolean }): Promise<LiveReplayResult> {
  const jobs: Array<Promise<void>> = []
  let total = 0
  for (const fn of trace.functions) total += fn.arrivalsMs.length
  const latencies = new Float32Array(total).fill(NaN)
  let served = 0
  let failed = 0
  const errors: Record<string, number> = {}
  let instMs = 0
  let maxInst = 0
  const start = performance.now()
  let lastSample = start
  const sample = (): void => {
    const now = performance.now()
    let n = 0
    for (const p of pools) n += p.warmInstances + p.startingInstances
    instMs += n * (now - lastSample)
    lastSample = now
    if (n > maxInst) maxInst = n
  }
  const sampler = setInterval(sample, opts.sampleMs)
  let k = 0
  trace.functions.forEach((fn, f) => {
    const pool = pools[f]
    if (pool === undefined) return
    for (let i = 0; i < fn.arrivalsMs.length; i++) {
      const idx = k++
      const due = fn.arrivalsMs[i] ?? 0
      const dur = fn.durationsMs[i] ?? 0
      const body = Buffer.from(JSON.stringify(opts.cpuBound === true ? { workMs: dur } : { sleepMs: dur }))
      jobs.push(new Promise<void>((resolve) => {
        setTimeout(() => {
          pool.invoke({ headers: toBinaryHeaders({ specversion: '1.0', id: String(idx), source: 'replay', type: 'replay', datacontenttype: 'application/json' }), body }).then(() => {
            latencies[idx] = performance.now() - (start + due)
            served++
          }, (err: unknown) => {
            failed++
            const code = (err as { code?: unknown }).code
            const key = typeof code === 'string' ? code : String(err)
            errors[key] = (errors[key] ?? 0) + 1
          }).finally(resolve)
        }, Math.max(0, start + due - performance.now()))
      }))
    }
  })
  await Promise.all(jobs)
  // Count instances to the trace's end, as the simulator does.
  const left = start + trace.durationMs - performance.now()
  if (left > 0) await new Promise((resolve) => setTimeout(resolve, left))
  sample()
  clearInterval(sampler)
  const sorted = latencies.filter((x) => !Number.isNaN(x)).sort()
  let spawns = 0
  for (const p of pools) spawns += p.spawnCount
  return {
    requests: total,
    served,
    failed,
    errors,
    latencyMsP50: quantile(sorted, 0.5),
    latencyMsP95: quantile(sorted, 0.95),
    instanceSeconds: instMs / 1000,
    maxInstances: maxInst,
    spawns,
    wallSeconds: (performance.now() - start) / 1000,
    latencies
  }
}

export interface ColdStartCalibration {
  /** One instance started alone, ms. */
  aloneMs: number
  /** CPUs concurrent starts behave as sharing: n x aloneMs / (time for n started at once). */
  cpus: number
}

/**
 * Measures the box's cold starts for the simulator: one instance alone, then `n` at once (a pool of maxScale n
 * given n concurrent requests); `makePool(maxScale)` builds a fresh pool of the trace function.
 */
export async function measureColdStart (makePool: (maxScale: number) => FunctionPool, n = 4): Promise<ColdStartCalibration> {
  const ev = (): { headers: Record<string, string>; body: Buffer } => ({ headers: toBinaryHeaders({ specversion: '1.0', id: 'cal', source: 'calibrate', type: 'calibrate', datacontenttype: 'application/json' }), body: Buffer.from('{}') })
  const one = makePool(1)
  let t = performance.now()
  await one.invoke(ev())
  const aloneMs = performance.now() - t
  await one.close()
  const many = makePool(n)
  t = performance.now()
  const calls = Promise.all(Array.from({ length: n }, () => many.invoke(ev())))
  // The first instance up serves every request: wait for all n to be ready, not for the requests.
  while (many.warmInstances < n) await new Promise((resolve) => setTimeout(resolve, 5))
  const manyMs = performance.now() - t
  await calls
  await many.close()
  return { aloneMs, cpus: Math.max(0.25, Math.min(n, (n * aloneMs) / manyMs)) }
}
