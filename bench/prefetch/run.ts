/**
 * Prefetch simulator benchmark: every policy at its defaults side by side in one run, per trace in
 * ../shared/traces and per half of the 500-function slice (the first half is where the iotless defaults were
 * chosen; the second half and the other traces were not looked at while tuning); the first-call floor per trace; a
 * scale run on a synthetic tiling of the real slice; a sweep plot per trace in bench/out/. Prints the markdown of
 * bench/RESULTS.md "## Prefetch simulator".
 *
 *   npm run build && node dist/bench/prefetch/run.js [TRACES_DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { loadTrace } from '../../prefetch/traces/loadTrace.js'
import { sliceTrace, tileTrace } from '../../prefetch/traces/traceWindow.js'
import type { Trace } from '../../prefetch/traces/trace.js'
import { createPolicy } from '../../prefetch/policies/policies.js'
import { paretoSvg } from '../../prefetch/sim/paretoSvg.js'
import { simulate } from '../../prefetch/sim/simulate.js'
import { paretoFrontier, runSweep } from '../../prefetch/sim/sweep.js'
import { wasteBreakdown } from '../../prefetch/sim/wasteBreakdown.js'
import { compareAtDefaults, DEFAULT_RUNS } from '../../prefetch/sim/compareDefaults.js'

/** iotless as it was before issue 15: hazardThreshold 0.0005, maxThreshold 0.5, no prior tail. */
const OLD_IOTLESS_DEFAULTS = { hazardThreshold: 0.0005, maxThreshold: 0.5, priorTailShape: 0, minThreshold: 0.002, priorWeight: 1, slackThreshold: 0 }
/** iotless at the first issue-15 session's defaults: prior tail, no slack rule. */
const PREV_IOTLESS_DEFAULTS = { hazardThreshold: 0.003, maxThreshold: 0.1, priorTailShape: 1, minThreshold: 0.002, priorWeight: 1, slackThreshold: 0 }
/** iotless at the second issue-15 session's defaults: slack rule, no own tail (hazard 0 past the longest idle time). */
const SECOND_IOTLESS_DEFAULTS = { tailPseudoCount: 0 }

const tracesDir = process.argv[2] ?? join(process.cwd(), '..', 'shared', 'traces')
const outDir = join(process.cwd(), 'bench', 'out')
mkdirSync(outDir, { recursive: true })
const load0 = loadavg()[0] ?? 0

const a19 = loadTrace(join(tracesDir, 'azure2019-500fn-8h'), undefined)
const half = Math.floor(a19.minutes / 2)
const traces: Array<[string, string, Trace]> = [
  ['a19-500 first half', 'tuning', sliceTrace(a19, 0, half)],
  ['a19-500 second half', 'held out', sliceTrace(a19, half, a19.minutes)],
  ['a19-500 all 8 h', 'half tuning', a19],
  ['azure2021', 'held out', loadTrace(join(tracesDir, 'azure2021'), undefined)],
  ['ulb', 'held out', loadTrace(join(tracesDir, 'ulb-sensornet-library1'), undefined)]
]

// Warm-up: one discarded timed run of every policy on the first trace, so the first rows' decision times measure
// JIT-compiled code, not the compiler (a fresh process gave iotless p99 12.6 us on its first run, 4.8 on the next).
for (const [p, params] of DEFAULT_RUNS) simulate(traces[0]?.[2] ?? a19, createPolicy(p, params))

const f2 = (n: number): string => (Number.isFinite(n) ? n.toFixed(2) : String(n))
const lines: string[] = []
lines.push(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, load average ${load0.toFixed(2)} at start. Every policy at its defaults (fixed at 10 min); "x hybrid" is the ratio to hybrid in the same run.`)
lines.push('')
lines.push('| trace | data | policy | functions | cold starts | p75 fn cold % | floor | x hybrid | wasted GB-s | x hybrid | decision p99 us | state B/fn | sim s |')
lines.push('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
const verdictLines: string[] = []
const breakdownLines: string[] = []
const frontierLines: string[] = []
for (const [name, role, trace] of traces) {
  const c = compareAtDefaults(trace)
  const hybrid = c.results.find((r) => r.policy === 'hybrid')
  for (const r of c.results) {
    const hp = hybrid?.p75FunctionColdStartPct ?? NaN
    const hw = hybrid?.wastedMemoryGbSeconds ?? NaN
    lines.push(`| ${name} | ${role} | ${r.policy} | ${r.functions} | ${r.coldStarts} | ${f2(r.p75FunctionColdStartPct)} | ${f2(c.floorP75)} | ${f2(r.p75FunctionColdStartPct / hp)} | ${Math.round(r.wastedMemoryGbSeconds)} | ${f2(r.wastedMemoryGbSeconds / hw)} | ${r.decisionMicrosP99.toFixed(2)} | ${Math.round(r.stateBytesPerFunctionMean)} | ${r.simSeconds.toFixed(2)} |`)
  }
  // Earlier defaults (before issue 15, chosen in-sample on the whole 8-hour slice; the first and second issue-15 sessions'), for
  // before/after; not judged.
  for (const [label, params] of [['iotless, pre-issue-15 defaults', OLD_IOTLESS_DEFAULTS], ['iotless, first-session defaults', PREV_IOTLESS_DEFAULTS], ['iotless, second-session defaults (no own tail)', SECOND_IOTLESS_DEFAULTS]] as const) {
    const old = simulate(trace, createPolicy('iotless', params))
    lines.push(`| ${name} | ${role} | ${label} | ${old.functions} | ${old.coldStarts} | ${f2(old.p75FunctionColdStartPct)} | ${f2(c.floorP75)} | ${f2(old.p75FunctionColdStartPct / (hybrid?.p75FunctionColdStartPct ?? NaN))} | ${Math.round(old.wastedMemoryGbSeconds)} | ${f2(old.wastedMemoryGbSeconds / (hybrid?.wastedMemoryGbSeconds ?? NaN))} | ${old.decisionMicrosP99.toFixed(2)} | ${Math.round(old.stateBytesPerFunctionMean)} | ${old.simSeconds.toFixed(2)} |`)
  }
  // Where the cold starts and the chosen waste go, per group of functions (by active minutes).
  const released = simulate(trace, createPolicy('fixed', { keepAliveMin: 0 }), { perFunction: true, timeDecisions: false })
  const cut = Math.min(...c.results.filter((r) => ['hybrid', 'spes', 'faascache'].includes(r.policy)).map((r) => r.p75FunctionColdStartPct))
  const parts: string[] = []
  for (const p of ['iotless', 'spes', 'faascache', 'hybrid']) {
    const r = simulate(trace, createPolicy(p, {}), { perFunction: true, timeDecisions: false })
    parts.push(`  - ${p}: ` + wasteBreakdown(trace, r, released, cut).map((b) => `${b.activeMinutes} min: ${b.atOrUnderCut}/${b.functions} fns <= cut, ${b.laterColdStarts} later cold, ${Math.round(b.keepAliveWasteGbSeconds)} GB-s`).join('; '))
  }
  breakdownLines.push(`- ${name} (cut = the best baseline p75, ${f2(cut)} %; released-at-once waste ${Math.round(released.wastedMemoryGbSeconds)} GB-s, paid by every policy):`, ...parts)
  verdictLines.push(`- ${name} (${role}): iotless dominates ${c.verdicts.map((v) => `${v.baseline} ${v.dominates ? 'yes' : 'NO'} (p75 x${f2(v.p75Ratio)}, waste x${f2(v.wasteRatio)})`).join('; ')}; p75 <= 0.5x hybrid: ${c.halfOfHybrid === 'floor' ? 'out of reach (floor ' + f2(c.floorP75) + ' > half of hybrid)' : c.halfOfHybrid}`)
  const svg = join(outDir, `prefetch-sweep-${name.replace(/[^a-z0-9]+/gi, '-')}.svg`)
  const sweep = runSweep(trace)
  writeFileSync(svg, paretoSvg(sweep, `${name}: ${trace.functions.length} functions, ${trace.minutes} minutes`))
  const knob = (r: typeof sweep[number]): string => {
    const keys = ['keepAliveMin', 'stableWindowSec', 'rangeMin', 'fallbackKeepAliveMin', 'newKeepAliveMin', 'memoryBudgetMb', 'hazardThreshold', 'slackThreshold']
    return Object.entries(r.params).filter(([k]) => keys.includes(k)).map(([k, v]) => `${k}=${v}`).join(',')
  }
  frontierLines.push(`- ${name}: ` + paretoFrontier(sweep).map((r) => `${r.policy}(${knob(r)}) ${f2(r.p75FunctionColdStartPct)} % / ${Math.round(r.wastedMemoryGbSeconds)}`).join('; '))
  frontierLines.push(`  - iotless sweep: ` + sweep.filter((r) => r.policy === 'iotless').map((r) => `(${knob(r)}) ${f2(r.p75FunctionColdStartPct)} % / ${Math.round(r.wastedMemoryGbSeconds)}`).join('; '))
  process.stderr.write(`wrote ${svg}\n`)
}
lines.push('')
lines.push('Verdicts, computed from the rows above (prefetch/sim/compareDefaults.ts):')
lines.push('')
lines.push(...verdictLines)
lines.push('')
lines.push('Pareto frontier of the sweep per trace (p75 fn cold % / wasted GB-s; points no other sweep point beats on both), and the iotless sweep:')
lines.push('')
lines.push(...frontierLines)
lines.push('')
lines.push('Where cold starts and chosen waste go, at defaults (functions by active minutes; "later cold" = cold starts after the first call; GB-s = waste over releasing at once):')
lines.push('')
lines.push(...breakdownLines)

// Scale: synthetic, the 500-function slice tiled 3x in time (24 h) and 8x in functions (4000). Not real data.
const big = tileTrace(a19, 3, 8)
let arrivalMinutes = 0
for (const f of big.functions) arrivalMinutes += f.minutes.length
lines.push('')
lines.push(`Scale (synthetic: the 500-function slice tiled 3x in time and 8x in functions = ${big.functions.length} functions x ${big.minutes} minutes, ${arrivalMinutes} arrival minutes, trace ${(arrivalMinutes * 8 / 2 ** 20).toFixed(1)} MiB of series; speed and memory only, no cold-start result on it is a result on real data):`)
lines.push('')
lines.push('| policy | sim s, steps timed | sim s, untimed | steps/s untimed (M) | decision p99 us | heap after - before MiB | state B/fn |')
lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const [p, params] of DEFAULT_RUNS) {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  const before = process.memoryUsage().heapUsed
  const policy = createPolicy(p, params)
  const r = simulate(big, policy)
  const after = process.memoryUsage().heapUsed
  const untimed = simulate(big, createPolicy(p, params), { timeDecisions: false })
  lines.push(`| ${p} | ${r.simSeconds.toFixed(2)} | ${untimed.simSeconds.toFixed(2)} | ${(big.functions.length * big.minutes / untimed.simSeconds / 1e6).toFixed(1)} | ${r.decisionMicrosP99.toFixed(2)} | ${((after - before) / 2 ** 20).toFixed(0)} | ${Math.round(r.stateBytesPerFunctionMean)} |`)
}
lines.push('')
lines.push(`Load average at end: ${(loadavg()[0] ?? 0).toFixed(2)}; peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB.`)
process.stdout.write(lines.join('\n') + '\n')
