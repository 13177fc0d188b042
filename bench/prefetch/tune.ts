/**
 * The iotless tuning run of issue 15's third session: minutes 0-239 of the 500-function Azure 2019 slice ONLY (it
 * loads no other trace and no other minutes), the baselines at their defaults beside iotless at each candidate
 * `tailPseudoCount`, and the selection rule of docs/prefetch.md ("How the iotless defaults were chosen") applied to
 * the rows: (a) p75 no worse than the least baseline p75, with at least 5 functions more at or under it than that
 * p75 needs; (b) wasted memory at most 1.05x the w = 0 row's; (c) decision p99 < 10 us (the least of 4 timed runs:
 * load only adds time), printed but not a gate (see below). The first candidate in the order 1, 0.5, 0.25 that
 * passes (a) and (b) is printed as chosen.
 *
 *   npm run build && node dist/bench/prefetch/tune.js [TRACES_DIR]
 */
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { loadTrace } from '../../prefetch/traces/loadTrace.js'
import { sliceTrace } from '../../prefetch/traces/traceWindow.js'
import { createPolicy } from '../../prefetch/policies/policies.js'
import { simulate, type SimResult } from '../../prefetch/sim/simulate.js'

const tracesDir = process.argv[2] ?? join(process.cwd(), '..', 'shared', 'traces')
const load0 = loadavg()[0] ?? 0
const full = loadTrace(join(tracesDir, 'azure2019-500fn-8h'), undefined)
const tuning = sliceTrace(full, 0, Math.floor(full.minutes / 2))

// Warm-up (JIT), discarded: every policy and candidate once, as bench/prefetch/run.ts does.
for (const p of ['hybrid', 'spes', 'faascache']) simulate(tuning, createPolicy(p, {}))
for (const w of [0, 1, 0.5, 0.25]) simulate(tuning, createPolicy('iotless', { tailPseudoCount: w }))

const atOrUnder = (r: SimResult, cut: number): number => (r.perFunction ?? []).filter((f) => f.invocations > 0 && 100 * f.coldStarts / f.invocations <= cut + 1e-9).length
const run = (p: string, params: Record<string, number>): SimResult => {
  const r = simulate(tuning, createPolicy(p, params), { perFunction: true })
  return r
}
const baselines = ['hybrid', 'spes', 'faascache'].map((p) => run(p, {}))
const cut = Math.min(...baselines.map((r) => r.p75FunctionColdStartPct))
const nFn = baselines[0]?.perFunction?.filter((f) => f.invocations > 0).length ?? 0
const need = Math.ceil(0.75 * nFn) + 5
const base = run('iotless', { tailPseudoCount: 0 })
const rows: string[] = ['| policy | cold starts | p75 fn cold % | fns <= cut (need) | wasted GB-s | x w=0 | decision p99 us | passes |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |']
const line = (label: string, r: SimResult, pass: string): void => {
  rows.push(`| ${label} | ${r.coldStarts} | ${r.p75FunctionColdStartPct.toFixed(2)} | ${atOrUnder(r, cut)} (${need}) | ${Math.round(r.wastedMemoryGbSeconds)} | ${(r.wastedMemoryGbSeconds / base.wastedMemoryGbSeconds).toFixed(3)} | ${r.decisionMicrosP99.toFixed(2)} | ${pass} |`)
}
for (const r of baselines) line(r.policy, r, '')
line('iotless w=0 (second-session defaults)', base, '')
let chosen: number | undefined
// Decision p99 on a shared machine only grows with load, so (c) takes the least of 3 interleaved timed runs.
const p99: Record<string, number[]> = {}
for (let k = 0; k < 3; k++) {
  for (const w of [0, 1, 0.5, 0.25]) (p99[w] ??= []).push(simulate(tuning, createPolicy('iotless', { tailPseudoCount: w })).decisionMicrosP99)
}
const bestP99 = (w: number): number => Math.min(...(p99[w] ?? [NaN]))
rows.push(`| (iotless w=0 decision p99, 3 runs: ${(p99[0] ?? []).map((x) => x.toFixed(2)).join(', ')} us) | | | | | | ${bestP99(0).toFixed(2)} | |`)
for (const w of [1, 0.5, 0.25]) {
  const r = { ...run('iotless', { tailPseudoCount: w }) }
  r.decisionMicrosP99 = Math.min(r.decisionMicrosP99, bestP99(w))
  const a = r.p75FunctionColdStartPct <= cut && atOrUnder(r, cut) >= need
  const b = r.wastedMemoryGbSeconds <= 1.05 * base.wastedMemoryGbSeconds
  const c = r.decisionMicrosP99 < 10
  line(`iotless w=${w}`, r, `${a ? 'a' : '-'}${b ? 'b' : '-'}${c ? 'c' : '-'}`)
  // (c) is printed, not a gate: on the shared 2-core machine the same code's decision p99 moved 7.4-16.7 us between
  // runs (w = 0 failed it in 2 of 3), so it could not tell candidates apart; bench/prefetch/run.ts reports it.
  if (chosen === undefined && a && b) chosen = w
}
process.stdout.write(`Tuning half only (${tuning.source}, ${nFn} functions); cut = least baseline p75 = ${cut.toFixed(2)} %; load ${load0.toFixed(2)} -> ${(loadavg()[0] ?? 0).toFixed(2)}\n\n${rows.join('\n')}\n\nchosen: ${chosen === undefined ? 'none (defaults stay, w = 0)' : `tailPseudoCount ${chosen}`}\n`)
