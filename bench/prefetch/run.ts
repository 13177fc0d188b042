/**
 * Prefetch simulator benchmark: every policy at its defaults against `fixed` 10 minutes, side by side in one run,
 * on each trace in ../shared/traces, plus a sweep plot per trace in bench/out/. Prints the markdown table of
 * bench/RESULTS.md "## Prefetch simulator".
 *
 *   npm run build && node dist/bench/prefetch/run.js [TRACES_DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { join } from 'node:path'
import { loadTrace } from '../../prefetch/traces/loadTrace.js'
import { createPolicy } from '../../prefetch/policies/policies.js'
import { paretoSvg } from '../../prefetch/sim/paretoSvg.js'
import { simulate, type SimResult } from '../../prefetch/sim/simulate.js'
import { runSweep } from '../../prefetch/sim/sweep.js'

const tracesDir = process.argv[2] ?? join(process.cwd(), '..', 'shared', 'traces')
const traces = ['azure2019-500fn-8h', 'azure2021', 'ulb-sensornet-library1']
const runs: Array<[string, Record<string, number>]> = [['fixed', { keepAliveMin: 10 }], ['knative', {}], ['hybrid', {}], ['iotless', {}]]
const outDir = join(process.cwd(), 'bench', 'out')
mkdirSync(outDir, { recursive: true })

const ratio = (a: number, b: number): string => (b === 0 ? (a === 0 ? '1.00' : 'inf') : (a / b).toFixed(2))
const lines: string[] = []
lines.push(`Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}. All policies at their defaults; ratios are against fixed 10 min in the same run.`)
lines.push('')
lines.push('| trace | policy | functions | invocations | cold starts | cold % | p75 fn cold % | x fixed | wasted GB-s | x fixed | held idle GB-s | decision p99 us | state B/fn | sim s |')
lines.push('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const name of traces) {
  const trace = loadTrace(join(tracesDir, name), undefined)
  const results: SimResult[] = runs.map(([p, params]) => simulate(trace, createPolicy(p, params)))
  const base = results[0]
  if (base === undefined) continue
  for (const r of results) {
    lines.push(`| ${name} | ${r.policy} | ${r.functions} | ${r.invocations} | ${r.coldStarts} | ${r.coldStartPct.toFixed(3)} | ${r.p75FunctionColdStartPct.toFixed(2)} | ${ratio(r.p75FunctionColdStartPct, base.p75FunctionColdStartPct)} | ${Math.round(r.wastedMemoryGbSeconds)} | ${ratio(r.wastedMemoryGbSeconds, base.wastedMemoryGbSeconds)} | ${Math.round(r.keepAliveWasteGbSeconds)} | ${r.decisionMicrosP99.toFixed(2)} | ${Math.round(r.stateBytesPerFunctionMean)} | ${r.simSeconds.toFixed(2)} |`)
  }
  const hybrid = results.find((r) => r.policy === 'hybrid')
  const ours = results.find((r) => r.policy === 'iotless')
  if (hybrid !== undefined && ours !== undefined) {
    const dominates = ours.p75FunctionColdStartPct < hybrid.p75FunctionColdStartPct && ours.wastedMemoryGbSeconds < hybrid.wastedMemoryGbSeconds
    process.stderr.write(`${name}: iotless/hybrid p75 ${ratio(ours.p75FunctionColdStartPct, hybrid.p75FunctionColdStartPct)}, waste ${ratio(ours.wastedMemoryGbSeconds, hybrid.wastedMemoryGbSeconds)}, cold% ${ratio(ours.coldStartPct, hybrid.coldStartPct)}; Pareto-dominates: ${dominates}\n`)
  }
  const svg = join(outDir, `prefetch-sweep-${name}.svg`)
  writeFileSync(svg, paretoSvg(runSweep(trace), `${name}: ${trace.functions.length} functions, ${trace.minutes} minutes`))
  process.stderr.write(`wrote ${svg}\n`)
}
process.stdout.write(lines.join('\n') + '\n')
