/**
 * Cold start of a pool instance, alone: spawn, init and the first invocation of the built-in
 * temperature-alert function, each on a fresh pool (no MQTT). The README's cold-start figure is this.
 *
 *   npm run build && node dist/bench/adapter/coldStart.js      (BENCH_COLD_STARTS=7)
 */
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { resolveFunctionModule } from '../../cli/resolveFunctionModule.js'
import { systemClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { createLogger } from '../../core/log.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const N = Number(process.env.BENCH_COLD_STARTS ?? 7)

async function main (): Promise<void> {
  const log = createLogger({ level: 'silent' })
  const load0 = os.loadavg()[0] ?? NaN
  const ms: number[] = []
  for (let k = 0; k < N; k++) {
    const pool = new FunctionPool({ name: 'temperature-alert', modulePath: resolveFunctionModule('temperature-alert', repoRoot), config: { thresholdC: 22 }, env: process.env, concurrency: 1, maxScale: 1, keepAliveMs: 60_000, initTimeoutMs: 30_000, timeoutMs: 30_000, clock: systemClock, log })
    const t0 = performance.now()
    await pool.invoke({ headers: toBinaryHeaders({ specversion: '1.0', id: `c${k}`, source: 'bench', type: 't', datacontenttype: 'application/json' }), body: Buffer.from('{"temperature":30}') })
    ms.push(performance.now() - t0)
    await pool.close()
  }
  const sorted = [...ms].sort((a, b) => a - b)
  console.log(`cold starts (ms): ${ms.map((x) => x.toFixed(0)).join(', ')}; median ${sorted[Math.floor(N / 2)]?.toFixed(0)}; load average ${load0.toFixed(1)} before, ${(os.loadavg()[0] ?? NaN).toFixed(1)} after`)
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
