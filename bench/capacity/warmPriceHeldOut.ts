import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { simulateRequests, type RequestSimOptions, type RequestSimResult } from '../../adapters/runtime/sim/requestSim.js'
import { loadRequestTrace, type RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import { priceSummary } from '../../cli/simRequest.js'

/**
 * node dist/bench/capacity/warmPriceHeldOut.js: the feedback price (warmPrice.ts) on the held-out traces, loaded and
 * simulated as bench/capacity/run.ts does, beside KPA-like and the fixed 60 s price, in one run: every miss charged
 * (two rounds ago), start-up requests apart (last round), and start-up apart without windup (holdWhilePaying, last
 * round), the starts capped while none of a function's instances is ready (noneReadyColdStartMs, last round), and the
 * box-wide start gate (maxConcurrentStarts 2, this round) with starts shared as processes (coldStartSharing processor)
 * and fixed at their start, beside KPA-like and the fixed price without it in the same start model; a row's "vs KPA"
 * is against KPA-like in its own start model without a gate. Then (the sixth look) the feedback price's four variants
 * behind the gate of 2 (R, the current rule; H, holdWhilePaying; H + Hd, with downAfter 2; H + D, with step 2^(1/4)),
 * whose "vs KPA" is against KPA-like behind the same gate. Decision rules: bench/RESULTS.md "Capacity: start-up
 * misses", "Capacity: the price's windup", "Capacity: starts while none is ready", "Capacity: a start gate", then
 * "Capacity: the feedback price behind the start gate". Every row names its price's design (the box's default is now
 * BOX_WARM_PRICE) and its attainment target, so each reproduces the figures of the round it was added in. Prints
 * markdown; writes nothing.
 */
const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const traces = process.env.IOTLESS_TRACES ?? resolve(repoRoot, '..', 'shared', 'traces')
const base: Partial<RequestSimOptions> = { maxScale: 256, coldStartMs: 250, coldStartCpus: 2, keepAliveMs: 600_000, fixedInstances: 1, coldStartSharing: 'atStart', maxConcurrentStarts: 0 }
const FIXED = { idleSecondsPerColdStart: 60, holdMs: 15_000, burstFactor: 0, replenishMs: 250, attainmentTarget: 0 }
const PROC = 'kpa, starts shared as processes (this round)'
const FEEDBACK = { holdMs: 15_000, burstFactor: 0, replenishMs: 250, attainmentTarget: 0.99 }
const KPA_GATE = 'kpa, start gate 2, starts fixed at their start (this round, reported)'
/** name, options, and whether its "vs KPA" is against KPA-like behind the same gate (the sixth look's rows). */
const rows: Array<[string, Partial<RequestSimOptions>, boolean?]> = [
  ['kpa (Knative defaults)', { scaler: 'kpa' }],
  ['slo, fixed price 60 s (default)', { scaler: 'slo', sloSettings: { idleSecondsPerColdStart: 60, holdMs: 15_000, burstFactor: 0, replenishMs: 250, attainmentTarget: 0 } }],
  ['slo, feedback price, every miss charged (two rounds ago)', { scaler: 'slo', sloSettings: FEEDBACK, warmPrice: { chargeStartup: true, holdWhilePaying: false, downAfter: 1 } }],
  ['slo, feedback price, start-up requests not charged (last round)', { scaler: 'slo', sloSettings: FEEDBACK, warmPrice: { holdWhilePaying: false, downAfter: 1 } }],
  ['slo, feedback price, start-up apart, no windup: holdWhilePaying (last round)', { scaler: 'slo', sloSettings: FEEDBACK, warmPrice: { holdWhilePaying: true, downAfter: 1 } }],
  ['slo, fixed price 60 s, starts capped while none ready: noneReadyColdStartMs 250 (this round)', { scaler: 'slo', sloSettings: { idleSecondsPerColdStart: 60, holdMs: 15_000, burstFactor: 0, replenishMs: 250, attainmentTarget: 0, noneReadyColdStartMs: 250 } }],
  ['slo, feedback price, holdWhilePaying, starts capped while none ready (last round, reported)', { scaler: 'slo', sloSettings: { ...FEEDBACK, noneReadyColdStartMs: 250 }, warmPrice: { holdWhilePaying: true, downAfter: 1 } }],
  [PROC, { scaler: 'kpa', coldStartSharing: 'processor' }],
  ['slo, fixed price 60 s, starts shared as processes (this round)', { scaler: 'slo', sloSettings: FIXED, coldStartSharing: 'processor' }],
  ['slo, fixed price 60 s, starts shared as processes, start gate 2 (this round, decides)', { scaler: 'slo', sloSettings: FIXED, coldStartSharing: 'processor', maxConcurrentStarts: 2 }],
  ['kpa, starts shared as processes, start gate 2 (this round, reported)', { scaler: 'kpa', coldStartSharing: 'processor', maxConcurrentStarts: 2 }],
  ['slo, fixed price 60 s, start gate 2, starts fixed at their start (this round, reported)', { scaler: 'slo', sloSettings: FIXED, maxConcurrentStarts: 2 }],
  [KPA_GATE, { scaler: 'kpa', maxConcurrentStarts: 2 }],
  ['slo, feedback price R (current rule), gate 2 (sixth look, reported)', { scaler: 'slo', sloSettings: FEEDBACK, warmPrice: { holdWhilePaying: false, downAfter: 1 }, maxConcurrentStarts: 2 }, true],
  ['slo, feedback price H (holdWhilePaying), gate 2 (sixth look, reported)', { scaler: 'slo', sloSettings: FEEDBACK, warmPrice: { holdWhilePaying: true, downAfter: 1 }, maxConcurrentStarts: 2 }, true],
  ['slo, feedback price H + Hd (holdWhilePaying, downAfter 2), gate 2 (sixth look, decides)', { scaler: 'slo', sloSettings: FEEDBACK, warmPrice: { holdWhilePaying: true, downAfter: 2 }, maxConcurrentStarts: 2 }, true],
  ['slo, feedback price H + D (holdWhilePaying, step 2^(1/4)), gate 2 (sixth look, reported)', { scaler: 'slo', sloSettings: FEEDBACK, warmPrice: { holdWhilePaying: true, downAfter: 1, step: 2 ** 0.25 }, maxConcurrentStarts: 2 }, true]
]
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')
const pct = (x: number): string => (x * 100).toFixed(2) + '%'

function table (title: string, trace: RequestTrace): void {
  process.stdout.write(`\n### ${title}\n\n| scaler | within SLO | instance-seconds | vs KPA | target | price |\n| --- | --- | --- | --- | --- | --- |\n`)
  let kpaAt: RequestSimResult | undefined
  let kpaProc: RequestSimResult | undefined
  const counts: string[] = []
  let kpaGate: RequestSimResult | undefined
  for (const [name, o, againstGate] of rows) {
    const r = simulateRequests(trace, { ...base, ...o })
    kpaAt ??= r
    if (name === PROC) kpaProc = r
    if (name === KPA_GATE) kpaGate = r
    const kpa = againstGate === true ? (kpaGate ?? r) : o.coldStartSharing === 'processor' ? (kpaProc ?? r) : kpaAt
    counts.push(`${name}: ${r.perFunction.reduce((n, f) => n + f.withinSlo, 0)} of ${r.requests} within, ${r.spawns} started`)
    const met = r.sloAttainment >= 0.99 && r.instanceSeconds <= kpa.instanceSeconds
    const steps = r.warmPriceSteps
    const startup = steps === undefined ? '' : `; start-up requests counted apart ${steps.reduce((n, s) => n + s.startup, 0)} (in closed batches)`
    process.stdout.write(`| ${name} | ${pct(r.sloAttainment)} | ${r.instanceSeconds.toFixed(0)} | ${(r.instanceSeconds / kpa.instanceSeconds).toFixed(4)} | ${name.startsWith('kpa') ? '-' : met ? 'met' : 'missed'} | ${steps === undefined ? '-' : priceSummary(steps) + startup} |\n`)
  }
  process.stdout.write('\n' + counts.map((c) => `- ${c}\n`).join(''))
}

process.stdout.write(`load before ${load()}; ${new Date().toISOString()}\n`)
table('Azure 2019, second 4 h (held out)', loadRequestTrace(join(traces, 'azure2019-500fn-8h'), 'azure2019', { seed: 1, fromMs: 14_400_000 }))
table('ULB sensor network, all 26.5 h (held out)', loadRequestTrace(join(traces, 'ulb-sensornet-library1'), 'ulb', { defaultDurationMs: 50 }))
table('Azure 2021 (held out)', loadRequestTrace(join(traces, 'azure2021'), 'azure2021'))
process.stdout.write(`\nload after ${load()}; ${new Date().toISOString()}\n`)
