import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { simulateRequests, type RequestSimOptions, type RequestSimResult } from '../../adapters/runtime/sim/requestSim.js'
import { loadRequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import { priceSummary } from '../../cli/simRequest.js'

/**
 * node dist/bench/capacity/warmPriceTuning.js: the feedback price (warmPrice.ts) on the tuning half of Azure 2019
 * only (08:00-12:00, seed 1), beside KPA and the fixed price, to choose between its two variants by the rule in
 * bench/RESULTS.md ("Capacity: the feedback price"), written before this ran:
 * - A: Erlang C and the headroom sized for the SLO's 95% (LaSS), the price steered toward 99% of requests;
 * - B: the SLO stated as 99% (Erlang C, the headroom and the price all at 99%).
 * It reads nothing of the second half.
 */
const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const traces = process.env.IOTLESS_TRACES ?? resolve(repoRoot, '..', 'shared', 'traces')
const base: Partial<RequestSimOptions> = { maxScale: 256, coldStartMs: 250, coldStartCpus: 2, keepAliveMs: 600_000, fixedInstances: 1 }
/** The price's rule of these rounds (the box's default is now BOX_WARM_PRICE): so the rows reproduce. */
const PLAIN = { holdWhilePaying: false, downAfter: 1 }
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')
const pct = (x: number): string => (x * 100).toFixed(2) + '%'

const train = loadRequestTrace(join(traces, 'azure2019-500fn-8h'), 'azure2019', { seed: 1, lengthMs: 14_400_000 })
const rows: Array<[string, Partial<RequestSimOptions>]> = [
  ['kpa (Knative defaults)', { scaler: 'kpa' }],
  ['slo, fixed price 60 s (the defaults before this round)', { scaler: 'slo', sloSettings: { idleSecondsPerColdStart: 60, attainmentTarget: 0 } }],
  ['slo, feedback price toward 99%, A: Erlang C at the SLO\'s 95% (every miss charged, last round)', { scaler: 'slo', sloSettings: { attainmentTarget: 0.99 }, warmPrice: { chargeStartup: true, ...PLAIN } }],
  ['slo, feedback price toward 99%, B: SLO stated as 99% (every miss charged, last round)', { scaler: 'slo', slo: { waitMs: 100, percentile: 0.99 }, sloSettings: { attainmentTarget: 0.99 }, warmPrice: { chargeStartup: true, ...PLAIN } }],
  ['slo, feedback price toward 99%, A, start-up requests not charged (this round)', { scaler: 'slo', sloSettings: { attainmentTarget: 0.99 }, warmPrice: PLAIN }]
]
process.stdout.write(`load before ${load()}\n| scaler (Azure 2019, first 4 h) | within SLO | instance-seconds | vs KPA | price |\n| --- | --- | --- | --- | --- |\n`)
let kpa: RequestSimResult | undefined
for (const [name, o] of rows) {
  const r = simulateRequests(train, { ...base, ...o, slo: { waitMs: 100, percentile: 0.95, ...o.slo } })
  kpa ??= r
  process.stdout.write(`| ${name} | ${pct(r.sloAttainment)} | ${r.instanceSeconds.toFixed(0)} | ${(r.instanceSeconds / kpa.instanceSeconds).toFixed(2)} | ${r.warmPriceSteps === undefined ? '-' : priceSummary(r.warmPriceSteps)} |\n`)
  if (process.env.IOTLESS_PRICE_TRACE === '1' && r.warmPriceSteps !== undefined) {
    for (const s of r.warmPriceSteps) process.stderr.write(`  ${(s.atMs / 1000).toFixed(0)} s: ${s.misses} misses / ${s.allowed.toFixed(1)} allowed of ${s.requests} (+${s.startup} start-up) -> ${s.seconds.toFixed(1)} s\n`)
  }
}
process.stdout.write(`load after ${load()}\n`)
