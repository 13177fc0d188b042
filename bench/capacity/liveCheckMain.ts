import { loadRequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import type { ScalerKind } from '../../adapters/runtime/capacity/scaler.js'
import { liveCheck } from './liveCheck.js'

/**
 * `node dist/bench/capacity/liveCheckMain.js TRACE_DIR SCALER...`: the live-vs-simulator check on the ULB slice
 * used by test/capacity/simVsLive.test.ts, one JSON line per scaler. Run as its own process so instances are forked
 * without a test runner's loaders (they triple a cold start).
 */
const [dir = '', ...kinds] = process.argv.slice(2)
const trace = loadRequestTrace(dir, 'ulb', { topFunctions: 3, fromMs: 3_600_000, lengthMs: 200_000, speedup: 10, defaultDurationMs: 40 })
for (const k of kinds.length > 0 ? kinds : ['reactive']) {
  process.stdout.write(JSON.stringify(await liveCheck(trace, k as ScalerKind, { maxScale: 3 })) + '\n')
}
