import type { RequestSimResult } from '../../adapters/runtime/sim/requestSim.js'

/** Functions grouped by their mean arrival rate over the run. */
export const RATE_CLASSES: ReadonlyArray<{ name: string; minPerSec: number }> = [
  { name: '>= 1/s', minPerSec: 1 },
  { name: '1/min .. 1/s', minPerSec: 1 / 60 },
  { name: '1/10 min .. 1/min', minPerSec: 1 / 600 },
  { name: '< 1/10 min', minPerSec: 0 }
]

export interface ClassBreakdown {
  name: string
  functions: number
  requests: number
  /** Out of the SLO because the request waited on a cold start (its instance became ready after it arrived). */
  coldMisses: number
  /** Out of the SLO while waiting for a busy warm instance (queueing), or refused / never served. */
  queueMisses: number
  instanceSeconds: number
  spawns: number
}

/**
 * Where the out-of-SLO requests and the instance-seconds go, by rate class: needs a result simulated with
 * keepOutcomes (requestSim's per-request wait and cold flag).
 */
export function missBreakdown (r: RequestSimResult, durationMs: number, waitMs: number): ClassBreakdown[] {
  const out = RATE_CLASSES.map((c) => ({ name: c.name, functions: 0, requests: 0, coldMisses: 0, queueMisses: 0, instanceSeconds: 0, spawns: 0 }))
  for (const f of r.perFunction) {
    const rate = f.requests / (durationMs / 1000)
    const k = RATE_CLASSES.findIndex((c) => rate >= c.minPerSec)
    const b = out[k < 0 ? out.length - 1 : k]
    if (b === undefined) continue
    b.functions++
    b.requests += f.requests
    b.instanceSeconds += f.instanceSeconds
    b.spawns += f.spawns
    const o = f.outcome
    if (o === undefined) continue
    for (let i = 0; i < o.waitMs.length; i++) {
      const w = o.waitMs[i] ?? NaN
      if (w <= waitMs) continue
      if (o.cold[i] === 1) b.coldMisses++
      else b.queueMisses++
    }
  }
  return out
}

/** Markdown rows: class, functions, requests, cold misses, queue misses (each as % of all requests), instance-seconds. */
export function breakdownRows (scaler: string, b: ClassBreakdown[], total: number): string[] {
  const pct = (n: number): string => (100 * n / Math.max(1, total)).toFixed(2) + '%'
  return b.map((c) => `| ${scaler} | ${c.name} | ${c.functions} | ${c.requests} | ${pct(c.coldMisses)} | ${pct(c.queueMisses)} | ${c.instanceSeconds.toFixed(0)} | ${c.spawns} |`)
}

export const BREAKDOWN_HEADER = [
  '| scaler | functions by mean rate | functions | requests | missed: cold start (% of all) | missed: queueing or refused | instance-seconds | instances started |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |'
]
