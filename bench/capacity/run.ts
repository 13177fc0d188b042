import { execSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { simulateRequests, type RequestSimOptions, type RequestSimResult } from '../../adapters/runtime/sim/requestSim.js'
import { loadRequestTrace, type RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import type { ScalerKind } from '../../adapters/runtime/capacity/scaler.js'
import { writeResultsSection } from '../writeResultsSection.js'
import { SLO_DEFAULTS, type SloSettings } from '../../adapters/runtime/capacity/sloScaler.js'
import { liveCheck } from './liveCheck.js'
import { BREAKDOWN_HEADER, breakdownRows, missBreakdown } from './missBreakdown.js'
import { bounds21 } from './traceBounds.js'
import { priceSummary } from '../../cli/simRequest.js'
import { measureReprovision } from './reprovision.js'

/**
 * npm run bench:capacity: the request-level simulator on the real traces with today's reactive pool, a KPA-like
 * scaler, a fixed pool and the SLO sizer side by side; the SLO sizer tuned on the first half of Azure 2019 and
 * reported on its second half, ULB and Azure 2021 (out of sample); an overload scenario (fair share, guarantees); a live slice beside the
 * simulator; the live re-provisioning time. Writes the "Capacity" section of bench/RESULTS.md.
 */
const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const traces = process.env.IOTLESS_TRACES ?? resolve(repoRoot, '..', 'shared', 'traces')
const SCALERS: ScalerKind[] = ['reactive', 'kpa', 'fixed', 'slo']
const COLD_MS = 250
const base: Partial<RequestSimOptions> = { maxScale: 256, coldStartMs: COLD_MS, coldStartCpus: 2, keepAliveMs: 600_000, fixedInstances: 1 }
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')
const pct = (x: number): string => (x * 100).toFixed(2) + '%'
const f0 = (x: number | undefined): string => x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(0)

function row (name: string, r: RequestSimResult, kpa: RequestSimResult | undefined): string {
  const ratio = kpa === undefined ? '-' : (r.instanceSeconds / kpa.instanceSeconds).toFixed(2)
  return `| ${name} | ${pct(r.sloAttainment)} | ${f0(r.waitMsP95)} | ${f0(r.latencyMsP50)} / ${f0(r.latencyMsP95)} | ${f0(r.instanceSeconds)} | ${ratio} | ${r.spawns} | ${r.simSeconds.toFixed(1)} s |`
}

/** Last session's SLO sizer as benchmarked: LaSS's windows, hold 0 s (its tuning pick), no warm floor, every waiting request starts an instance. */
const LASS: Partial<SloSettings> = { holdMs: 0, burstFactor: 2, idleSecondsPerColdStart: 0, burstNeedsShortService: false, startWhenQueueExceedsSlo: false, replenishMs: 0, attainmentTarget: 0 }
/** Last round's defaults (warm floor 120 s, hold 15 s, burst off), Erlang C alone: no ready headroom. */
const LAST_ROUND: Partial<SloSettings> = { idleSecondsPerColdStart: 120, holdMs: 15_000, burstFactor: 0, replenishMs: 0, attainmentTarget: 0 }
/** The defaults before this round: the fixed price 60 s (the 12-point grid's pick), hold 15 s, headroom 250 ms. */
const FIXED_60: Partial<SloSettings> = { idleSecondsPerColdStart: 60, holdMs: 15_000, burstFactor: 0, replenishMs: 250, attainmentTarget: 0 }
/**
 * This round: the price by feedback toward 99% of requests within the SLO (warmPrice.ts), variant PICK_VARIANT as the
 * rule in bench/RESULTS.md chose on the tuning half (A: Erlang C at the SLO's 95%; B: the SLO stated as 99%).
 */
const FEEDBACK: Partial<SloSettings> = { holdMs: 15_000, burstFactor: 0, replenishMs: 250, attainmentTarget: 0.99 }
const PICK_VARIANT = 'A' as 'A' | 'B'
const FEEDBACK_OPTS: Partial<RequestSimOptions> = { sloSettings: FEEDBACK, ...(PICK_VARIANT === 'B' ? { slo: { waitMs: 100, percentile: 0.99 } } : {}) }

interface Variant { name: string; scaler: ScalerKind; opts?: Partial<RequestSimOptions>; verdict?: boolean }

/** The four scalers, the SLO sizer's earlier models, its fixed prices and the feedback price, side by side. */
const VARIANTS: Variant[] = [
  { name: 'reactive (today\'s pool)', scaler: 'reactive' },
  { name: 'kpa (Knative defaults)', scaler: 'kpa' },
  { name: 'kpa without max-scale-down-rate (an older model)', scaler: 'kpa', opts: { kpa: { maxScaleDownRate: 0 } } },
  { name: 'fixed (1 per function)', scaler: 'fixed' },
  { name: 'slo, LaSS as first built (hold 0 s, burst 2x, no warm floor)', scaler: 'slo', opts: { sloSettings: LASS } },
  { name: 'slo, two rounds ago (fixed price 120 s, hold 15 s, no ready headroom)', scaler: 'slo', opts: { sloSettings: LAST_ROUND } },
  { name: 'slo, fixed price 120 s, hold 15 s, headroom 250 ms (named after last round\'s grid: not a clean result)', scaler: 'slo', opts: { sloSettings: { ...FIXED_60, idleSecondsPerColdStart: 120 } } },
  { name: 'slo, fixed price 60 s (the default until 2026-12-02)', scaler: 'slo', opts: { sloSettings: FIXED_60 }, verdict: true },
  { name: `slo, feedback price toward 99%, each batch judged alone (payBack false, the second design; variant ${PICK_VARIANT})`, scaler: 'slo', opts: { ...FEEDBACK_OPTS, warmPrice: { payBack: false } } },
  { name: `**slo at its defaults: feedback price toward 99%, held while paying, down after 2 batches (variant ${PICK_VARIANT})**`, scaler: 'slo', opts: FEEDBACK_OPTS, verdict: true }
]

interface TableOut { lines: string[]; kpa: RequestSimResult; slo: RequestSimResult; all: Map<string, RequestSimResult> }

function table (title: string, trace: RequestTrace, opts: Partial<RequestSimOptions>, breakdown: boolean): TableOut {
  const all = new Map<string, RequestSimResult>()
  for (const v of VARIANTS) {
    all.set(v.name, simulateRequests(trace, { ...base, ...opts, ...v.opts, scaler: v.scaler, keepOutcomes: breakdown && (v.name.startsWith('kpa (') || v.name.startsWith('**')) }))
    process.stderr.write(`  ${title} ${v.name} done (load ${load()})\n`)
  }
  const kpa = all.get(VARIANTS[1]?.name ?? '') as RequestSimResult
  const slo = all.get(VARIANTS[VARIANTS.length - 1]?.name ?? '') as RequestSimResult
  let n = 0
  for (const fn of trace.functions) n += fn.arrivalsMs.length
  const lines = [
    `### ${title}`,
    '',
    `${trace.functions.length} functions, ${n} requests, ${(trace.durationMs / 1000).toFixed(0)} s. ${trace.how}.`,
    '',
    '| scaler | within SLO (wait <= 100 ms) | wait p95 ms | latency p50 / p95 ms | instance-seconds | vs KPA | instances started | simulated in |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...VARIANTS.map((v) => row(v.name, all.get(v.name) as RequestSimResult, kpa)),
    '',
    ...VARIANTS.filter((v) => v.verdict === true).map((v) => `Target (>= 99% within the SLO at <= KPA's instance-seconds), ${v.name.replace(/\*/g, '')}: ${verdict(all.get(v.name) as RequestSimResult, kpa)}.`),
    `Feedback price (error budget) over this part: ${slo.warmPriceSteps === undefined ? '-' : priceSummary(slo.warmPriceSteps)}.`,
    ''
  ]
  if (breakdown) {
    lines.push('Where the misses and the instance-seconds go (functions by their mean rate over this part):', '', ...BREAKDOWN_HEADER,
      ...breakdownRows('kpa', missBreakdown(kpa, trace.durationMs, 100), n), ...breakdownRows('slo', missBreakdown(slo, trace.durationMs, 100), n), '')
    for (const r of [kpa, slo]) for (const f of r.perFunction) delete f.outcome
  }
  return { lines, kpa, slo, all }
}

function verdict (r: RequestSimResult, kpa: RequestSimResult): string {
  const ok = r.sloAttainment >= 0.99 && r.instanceSeconds <= kpa.instanceSeconds
  return `${ok ? 'met' : 'missed'} (${pct(r.sloAttainment)} at ${(r.instanceSeconds / kpa.instanceSeconds).toFixed(2)}x KPA)`
}


/** The tuning grid and its selection rule, fixed before the grid was run. */
const GRID: Array<Partial<SloSettings>> = []
for (const idleSecondsPerColdStart of [60, 120, 240]) for (const holdMs of [15_000, 30_000]) for (const replenishMs of [250, 500]) GRID.push({ idleSecondsPerColdStart, holdMs, replenishMs, burstFactor: 0, attainmentTarget: 0 })
const key = (g: Partial<SloSettings>): string => `warm floor ${g.idleSecondsPerColdStart} s per cold start, hold ${(g.holdMs ?? 0) / 1000} s, ready headroom ${g.replenishMs === 0 ? 'off' : `${g.replenishMs} ms`}, burst ${g.burstFactor === 0 ? 'off' : `${g.burstFactor}x`}`
/**
 * The margin under KPA's instance-seconds a pick must keep on the tuning half: last round's pick moved from 1.16x to
 * 1.18x KPA out of sample, so a setting at 0.99x there could land over KPA on the other half.
 */
const COST_MARGIN = 0.97

async function main (): Promise<void> {
  // BENCH_ONLY=overload: the overload scenario alone (simulated, a few seconds), printed, RESULTS.md untouched.
  if (process.env.BENCH_ONLY === 'overload') { process.stdout.write(overload().join('\n') + '\n'); return }
  const lines: string[] = ['## Capacity', '']
  const started = new Date().toISOString()
  const loadBefore = load()
  lines.push(`Run ${started} on a shared 2-core machine; load average before ${loadBefore}. Reproduce: \`npm run bench:capacity\`.`,
    `Simulated cold start ${COLD_MS} ms alone, concurrent starts sharing 2 CPUs; keep-alive 600 s; maxScale 256; concurrency 1.`,
    'SLO: wait for a slot <= 100 ms, sized for 95% of requests (LaSS); attainment counts every request (a refused one is a miss). Target: >= 99% within.', '')

  // 1. Tuning, on the first half of the Azure 2019 slice only (08:00-12:00, seed 1).
  const az19 = join(traces, 'azure2019-500fn-8h')
  const train = loadRequestTrace(az19, 'azure2019', { seed: 1, lengthMs: 14_400_000 })
  const kpaTrain = simulateRequests(train, { ...base, scaler: 'kpa' })
  const tuning = GRID.map((g) => {
    const r = simulateRequests(train, { ...base, scaler: 'slo', sloSettings: g })
    process.stderr.write(`  tuning ${key(g)}: ${pct(r.sloAttainment)} ${f0(r.instanceSeconds)} (load ${load()})\n`)
    return { g, r }
  })
  // The rule (fixed before the grid ran): the highest attainment at no more than COST_MARGIN x KPA-like's
  // instance-seconds on the same part; if none is that cheap, the cheapest with >= 99%; if none reaches 99%, the
  // highest attainment.
  const cheap = tuning.filter((x) => x.r.instanceSeconds <= COST_MARGIN * kpaTrain.instanceSeconds).sort((a, b) => b.r.sloAttainment - a.r.sloAttainment)
  const good = tuning.filter((x) => x.r.sloAttainment >= 0.99).sort((a, b) => a.r.instanceSeconds - b.r.instanceSeconds)
  const best = [...tuning].sort((a, b) => b.r.sloAttainment - a.r.sloAttainment)
  const pick = cheap[0] ?? good[0] ?? best[0]
  const d = SLO_DEFAULTS
  const samePick = pick !== undefined && pick.g.idleSecondsPerColdStart === FIXED_60.idleSecondsPerColdStart && pick.g.holdMs === FIXED_60.holdMs && pick.g.replenishMs === FIXED_60.replenishMs
  lines.push('### Tuning (Azure 2019, first 4 h only)', '',
    `KPA-like (Knative defaults) on this part: ${pct(kpaTrain.sloAttainment)} within SLO at ${f0(kpaTrain.instanceSeconds)} instance-seconds.`, '',
    '| SLO sizer setting | within SLO | instance-seconds | vs KPA |', '| --- | --- | --- | --- |',
    ...tuning.map((x) => `| ${key(x.g)} | ${pct(x.r.sloAttainment)} | ${f0(x.r.instanceSeconds)} | ${(x.r.instanceSeconds / kpaTrain.instanceSeconds).toFixed(2)} |`), '',
    `Rule (fixed before the grid ran): the highest attainment at no more than ${COST_MARGIN}x KPA-like's instance-seconds (a margin: last round's pick moved from 1.16x to 1.18x out of sample); if none is that cheap, the cheapest with >= 99%; if none reaches 99%, the highest attainment.`,
    `Picked: ${pick === undefined ? '-' : key(pick.g)} (${cheap.length > 0 ? `within ${COST_MARGIN}x KPA's cost` : good.length > 0 ? `none within ${COST_MARGIN}x KPA's cost: cheapest >= 99%` : 'none reached 99%'}). ` +
    `The fixed-price row below (${key(FIXED_60)}) ${samePick ? 'is' : 'is NOT'} this grid's pick. SLO_DEFAULTS now: ${d.attainmentTarget > 0 ? `the feedback price toward ${d.attainmentTarget}` : `the fixed price ${d.idleSecondsPerColdStart} s`}; every row below names its settings.`,
    `The feedback price (this round) is not tuned on this grid: its choice between two variants was made on this half by the rule in "Capacity: the feedback price" (\`node dist/bench/capacity/warmPriceTuning.js\`).`, '')

  // 2. Out of sample: the second half of Azure 2019, ULB, Azure 2021.
  const test19 = loadRequestTrace(az19, 'azure2019', { seed: 1, fromMs: 14_400_000 })
  const t19 = table('Azure 2019, second 4 h (out of sample)', test19, {}, true)
  lines.push(...t19.lines)
  const ulb = loadRequestTrace(join(traces, 'ulb-sensornet-library1'), 'ulb', { defaultDurationMs: 50 })
  lines.push(...table('ULB sensor network, all 26.5 h (out of sample)', ulb, {}, false).lines)
  const az21 = loadRequestTrace(join(traces, 'azure2021'), 'azure2021')
  const t21 = table('Azure 2021 (out of sample)', az21, {}, true)
  lines.push(...t21.lines, ...bounds21(az21, t21.kpa, base))

  // 3. Overload: fairness and guarantees.
  lines.push(...overload())
  // 4. Live beside the simulator, and re-provisioning.
  const slice = loadRequestTrace(join(traces, 'ulb-sensornet-library1'), 'ulb', { topFunctions: 3, fromMs: 3_600_000, lengthMs: 200_000, speedup: 10, defaultDurationMs: 40 })
  lines.push('### Live pool beside the simulator', '', 'ULB, 3 busiest nodes, 200 s sped up 10x (20 s), 40 ms per packet, maxScale 3, real child processes. The simulator is given the mean cold start the live run saw.', '',
    '| scaler | live p50 / p95 ms | sim p50 / p95 ms | live / sim instance-seconds | live / sim instances started | live cold start mean |', '| --- | --- | --- | --- | --- | --- |')
  for (const s of SCALERS) {
    const c = await liveCheck(slice, s, { maxScale: 3 })
    lines.push(`| ${s} | ${f0(c.live.latencyMsP50)} / ${f0(c.live.latencyMsP95)} | ${f0(c.sim.latencyMsP50)} / ${f0(c.sim.latencyMsP95)} | ${c.live.instanceSeconds.toFixed(1)} / ${c.sim.instanceSeconds.toFixed(1)} | ${c.live.spawns} / ${c.sim.spawns} | ${f0(c.liveColdStartMs)} ms |`)
    process.stderr.write(`  live ${s} done (load ${load()})\n`)
  }
  lines.push('')
  const rp = await measureReprovision(5)
  const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)
  const alloc = sorted(rp.map((x) => x.allocationMs))
  const ready = sorted(rp.map((x) => x.instanceReadyMs))
  lines.push('### Live re-provisioning', '', 'A box of 2 instances, function a holding both with work in flight, then function b\'s first request; 5 runs.', '',
    `- overload start to the new allocation in effect (re-share + a's cgroup quotas written${rp.every((x) => x.deflated) ? ', deflated to half' : '; no cgroup: stop on idle'}): median ${alloc[2]?.toFixed(2)} ms, max ${alloc[4]?.toFixed(2)} ms (target < 500 ms)`,
    `- overload start to b's instance ready (includes its cold start): median ${f0(ready[2])} ms, max ${f0(ready[4])} ms`, '')
  lines.push(`Load average after: ${load()}. Node ${process.version}; commit ${gitHead()}.`, '')
  const path = writeResultsSection(repoRoot, 'Capacity', lines.join('\n'))
  process.stdout.write(lines.join('\n') + `\nwrote ${path}\n`)
}

function overload (): string[] {
  // Guaranteed: the 3 busiest ULB nodes at their real rate, guarantee = their mean rate x 2, burst 4.
  // Others: the 6 busiest Azure 2019 functions for 30 minutes, sped up so they offer 10x the box.
  const box = 16
  const g = loadRequestTrace(join(traces, 'ulb-sensornet-library1'), 'ulb', { topFunctions: 3, lengthMs: 1_800_000, defaultDurationMs: 50 })
  const raw = loadRequestTrace(join(traces, 'azure2019-500fn-8h'), 'azure2019', { seed: 2, topFunctions: 6, lengthMs: 1_800_000 })
  let work = 0
  for (const fn of raw.functions) for (const d of fn.durationsMs) work += d
  const offered = work / raw.durationMs // busy instances on average
  const speedup = Math.max(1, (10 * box) / offered)
  const hogs = loadRequestTrace(join(traces, 'azure2019-500fn-8h'), 'azure2019', { seed: 2, topFunctions: 6, lengthMs: 1_800_000 * speedup > 28_800_000 ? 28_800_000 : Math.round(1_800_000 * speedup), speedup })
  const cut = Math.min(g.durationMs, hogs.durationMs)
  const trace: RequestTrace = { format: 'azure2019', source: 'ULB + Azure 2019', how: 'mixed', durationMs: cut, functions: [...g.functions.map((f) => ({ ...f, id: `g-${f.id}` })), ...hogs.functions.map((f) => ({ ...f, id: `h-${f.id}` }))].map((f) => trimTo(f, cut)) }
  const functions = new Map<string, { guarantee: { ratePerSec: number; burst: number } }>()
  for (const f of trace.functions) if (f.id.startsWith('g-')) functions.set(f.id, { guarantee: { ratePerSec: Math.max(0.5, 2 * f.arrivalsMs.length / (cut / 1000)), burst: 4 } })
  let hogWork = 0
  for (const f of trace.functions) if (f.id.startsWith('h-')) for (const d of f.durationsMs) hogWork += d
  const out = ['### Overload: fair share and guarantees', '',
    `A box of ${box} instances. Guaranteed: the 3 busiest ULB nodes (real time, 50 ms a packet; guarantee twice their mean rate, burst 4). Others: the 6 busiest Azure 2019 functions sped up ${speedup.toFixed(1)}x so they offer ${(hogWork / cut).toFixed(0)} busy instances on average, ${((hogWork / cut) / box).toFixed(1)}x the box. ${(cut / 1000).toFixed(0)} s.`, '',
    '| scaler | guaranteed requests within SLO | others within SLO | Jain (others, within-SLO share under overload) | overloads | allocation p50 / max ms (simulated) | refused |', '| --- | --- | --- | --- | --- | --- | --- |']
  for (const s of SCALERS) {
    const r = simulateRequests(trace, { ...base, scaler: s, boxInstances: box, functions })
    const gr = r.perFunction.filter((p) => p.id.startsWith('g-'))
    const hr = r.perFunction.filter((p) => p.id.startsWith('h-'))
    const gReq = gr.reduce((a, p) => a + p.guaranteedRequests, 0)
    const gOk = gr.reduce((a, p) => a + p.guaranteedWithinSlo, 0)
    const hReq = hr.reduce((a, p) => a + p.requests, 0)
    const hOk = hr.reduce((a, p) => a + p.withinSlo, 0)
    out.push(`| ${s} | ${gOk} / ${gReq} (${pct(gReq === 0 ? 1 : gOk / gReq)}) | ${pct(hOk / Math.max(1, hReq))} | ${r.jainUnderOverload?.toFixed(3) ?? '-'} | ${r.overloads} | ${f0(r.reallocationMsP50)} / ${f0(r.reallocationMsMax)} | ${r.rejected} |`)
    process.stderr.write(`  overload ${s} done (load ${load()})\n`)
  }
  out.push('')
  return out
}

function trimTo (f: RequestTrace['functions'][number], endMs: number): RequestTrace['functions'][number] {
  let n = 0
  while (n < f.arrivalsMs.length && (f.arrivalsMs[n] ?? 0) < endMs) n++
  return { id: f.id, arrivalsMs: f.arrivalsMs.slice(0, n), durationsMs: f.durationsMs.slice(0, n) }
}

function gitHead (): string {
  try { return execSync('git rev-parse --short HEAD', { cwd: repoRoot, encoding: 'utf8' }).trim() } catch { return 'unknown' }
}

await main()
