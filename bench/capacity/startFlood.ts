import { cpus, loadavg } from 'node:os'
import { systemClock } from '../../core/clock.js'
import { createLogger } from '../../core/log.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { createScaler } from '../../adapters/runtime/capacity/createScaler.js'
import { FunctionPlanner } from '../../adapters/runtime/capacity/functionPlanner.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { StartGate } from '../../adapters/runtime/capacity/startGate.js'
import { TRACE_FUNCTION } from '../../adapters/runtime/sim/liveReplay.js'

/**
 * `node dist/bench/capacity/startFlood.js [RUNS] [N,N,...]`: N instances of the trace function started at once
 * through the live pool (N concurrent requests to a reactive pool of maxScale N, as liveReplay.ts measureColdStart
 * does), each instance's time to ready (the pool's ready count sampled every millisecond), beside what the
 * simulator's two start models predict for the same N from the start alone measured just before: `atStart`
 * (the k-th of a flood takes c x max(1, k / cpus)) and `processor` (all share the CPUs: all ready near N x c / cpus).
 * `node dist/bench/capacity/startFlood.js RUNS SIZES GATE` floods through a start gate of GATE (0: none).
 * Runs interleave the sizes; a start alone (N = 1) before each flood gives that flood's c.
 */
const runs = Number(process.argv[2] ?? 3)
const sizes = (process.argv[3] ?? '2,4,8,16').split(',').map(Number)
const cpuCount = cpus().length
/** The live pool's start gate for the floods (capacity/startGate.ts): argv[4], 0 (default) none. */
const gateLimit = Number(process.argv[4] ?? 0)
const quiet = createLogger({ level: 'warn' })
const ev = (): { headers: Record<string, string>; body: Buffer } => ({ headers: toBinaryHeaders({ specversion: '1.0', id: 'flood', source: 'flood', type: 'flood', datacontenttype: 'application/json' }), body: Buffer.from('{}') })
const make = (maxScale: number, gate?: StartGate): FunctionPool => new FunctionPool({
  name: 'flood',
  modulePath: TRACE_FUNCTION,
  config: {},
  env: process.env,
  concurrency: 1,
  maxScale,
  keepAliveMs: 600_000,
  initTimeoutMs: 120_000,
  timeoutMs: 120_000,
  clock: systemClock,
  log: quiet,
  startGate: gate,
  planner: new FunctionPlanner({ name: 'flood', concurrency: 1, maxScale, scaler: createScaler({ kind: 'reactive', concurrency: 1, maxScale }), weight: 8, reservedInstances: 0, minCpuShare: 0.5 })
})

/** Each instance's time to ready, ms from the n requests' arrival, in the order they became ready. */
async function flood (n: number, gate?: StartGate): Promise<number[]> {
  const pool = make(n, gate)
  const t0 = performance.now()
  const calls = Promise.all(Array.from({ length: n }, () => pool.invoke(ev())))
  const ready: number[] = []
  while (ready.length < n) {
    const now = performance.now() - t0
    while (ready.length < pool.warmInstances) ready.push(now)
    if (ready.length < n) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await calls
  await pool.close()
  return ready
}

const r = (x: number): number => Math.round(x)
const out: unknown[] = []
for (let run = 0; run < runs; run++) {
  for (const n of sizes) {
    const loadBefore = loadavg()[0]
    const c = (await flood(1))[0] ?? NaN
    const live = await flood(n, gateLimit > 0 ? new StartGate(gateLimit) : undefined)
    const atStart = Array.from({ length: n }, (_, k) => c * Math.max(1, (k + 1) / cpuCount))
    const processor = c * Math.max(1, n / cpuCount)
    out.push({ run, n, gate: gateLimit, cpus: cpuCount, loadBefore, loadAfter: loadavg()[0], aloneMs: r(c), liveMs: live.map(r), atStartMs: atStart.map(r), processorMs: r(processor) })
    process.stdout.write(JSON.stringify(out[out.length - 1]) + '\n')
  }
}
