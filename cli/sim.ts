import { writeFileSync } from 'node:fs'
import { IotlessError } from '../core/errors.js'
import type { Command } from './command.js'
import { numberFlag } from './numberFlag.js'
import { parseOptions } from './parseOptions.js'
import { loadTrace, TRACE_FORMATS } from '../prefetch/traces/loadTrace.js'
import { createPolicy, POLICIES } from '../prefetch/policies/policies.js'
import { describeParams } from '../prefetch/policies/policyParams.js'
import { simulate, type SimResult } from '../prefetch/sim/simulate.js'
import { runSweep } from '../prefetch/sim/sweep.js'
import { paretoSvg } from '../prefetch/sim/paretoSvg.js'
import type { LoadOptions, TraceFormat } from '../prefetch/traces/trace.js'

const usage = `Usage: iotless sim --trace PATH [--policy NAME] [--param k=v ...] [--json]
       iotless sim --sweep --trace PATH [--out FILE.svg] [--json]

Simulates a keep-alive / pre-warm policy on a real trace at minute granularity (docs/prefetch.md).

Options:
  --trace PATH            trace directory (azure2019, ulb) or file (azure2021)
  --trace-format F        ${TRACE_FORMATS.join('|')} (default: detected)
  --policy NAME           ${POLICIES.map((p) => p.name).join('|')} (default iotless)
  --param k=v             a policy parameter; repeatable
  --default-memory-mb N   memory of functions the trace gives none for (default 128)
  --default-duration-ms N duration of functions the trace gives none for (default 1000)
  --memory-stat S         azure2019 memory.csv column: avg (AverageAllocatedMb) or a percentile 1|5|25|50|75|95|99|100
  --json                  print one JSON object (a JSON array of results with --sweep)
  --sweep                 run every policy over a range of its parameters; write an SVG Pareto plot
  --out FILE              where --sweep writes the SVG (default prefetch-sweep.svg)

Policies and parameters:
${POLICIES.map((p) => `  ${p.name}: ${p.summary}\n    ${describeParams(p.params)}`).join('\n')}`

export function parseParamFlags (flags: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const f of flags) {
    const eq = f.indexOf('=')
    if (eq <= 0) throw new IotlessError('CLI_USAGE', `--param takes k=v, got ${JSON.stringify(f)}\n\n${usage}`)
    out[f.slice(0, eq)] = f.slice(eq + 1)
  }
  return out
}

function fmt (n: number, digits: number): string { return Number.isFinite(n) ? n.toFixed(digits) : String(n) }

/** The readable form of one result. */
export function resultTable (r: SimResult): string {
  const rows: Array<[string, string]> = [
    ['policy', `${r.policy} ${Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ')}`],
    ['trace', `${r.trace} (${r.traceFormat}, ${r.minutes} minutes)`],
    ['functions', String(r.functions)],
    ['invocations', String(r.invocations)],
    ['cold starts', `${r.coldStarts} (${fmt(r.coldStartPct, 3)}% of invocations)`],
    ['p75 function cold-start %', fmt(r.p75FunctionColdStartPct, 2)],
    ['wasted memory', `${fmt(r.wastedMemoryGbSeconds, 0)} GB-s (${fmt(r.keepAliveWasteGbSeconds, 0)} of it in minutes without arrivals)`],
    ['decision time p50 / p99', `${fmt(r.decisionMicrosP50, 2)} / ${fmt(r.decisionMicrosP99, 2)} us`],
    ['policy state per function', `${fmt(r.stateBytesPerFunctionMean, 0)} B mean, ${r.stateBytesPerFunctionMax} B max`],
    ['simulated in', `${fmt(r.simSeconds, 2)} s`]
  ]
  const w = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')
}

export const simCommand: Command = {
  name: 'sim',
  summary: 'simulate prefetch policies on a real trace (cold starts vs wasted memory)',
  usage,
  async run (argv) {
    const { values } = parseOptions(argv, {
      trace: { type: 'string' },
      'trace-format': { type: 'string' },
      policy: { type: 'string' },
      param: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      sweep: { type: 'boolean' },
      out: { type: 'string' },
      'default-memory-mb': { type: 'string' },
      'default-duration-ms': { type: 'string' },
      'memory-stat': { type: 'string' }
    }, usage)
    if (values.trace === undefined) throw new IotlessError('CLI_USAGE', `--trace is required\n\n${usage}`)
    const format = values['trace-format']
    if (format !== undefined && !(TRACE_FORMATS as readonly string[]).includes(format)) {
      throw new IotlessError('CLI_USAGE', `--trace-format must be one of ${TRACE_FORMATS.join(', ')}, got ${format}`)
    }
    const stat = values['memory-stat'] ?? 'avg'
    if (stat !== 'avg' && !['1', '5', '25', '50', '75', '95', '99', '100'].includes(stat)) {
      throw new IotlessError('CLI_USAGE', `--memory-stat must be avg or one of 1, 5, 25, 50, 75, 95, 99, 100; got ${stat}`)
    }
    const load: Partial<LoadOptions> = {
      defaultMemoryMb: numberFlag('--default-memory-mb', values['default-memory-mb'], 128, { above: 0 }, usage),
      defaultDurationMs: numberFlag('--default-duration-ms', values['default-duration-ms'], 1000, { above: 0 }, usage),
      memoryStat: stat === 'avg' ? 'avg' : Number(stat)
    }
    const trace = loadTrace(values.trace, format as TraceFormat | undefined, load)
    if (values.sweep === true) {
      const results = runSweep(trace)
      const out = values.out ?? 'prefetch-sweep.svg'
      writeFileSync(out, paretoSvg(results, `${trace.format}: ${trace.functions.length} functions, ${trace.minutes} minutes`))
      if (values.json === true) {
        process.stdout.write(JSON.stringify(results) + '\n')
      } else {
        const lines = results.map((r) => `${r.policy.padEnd(8)} ${Object.entries(r.params).map(([k, v]) => `${k}=${v}`).join(' ').slice(0, 60).padEnd(60)} p75 ${fmt(r.p75FunctionColdStartPct, 2).padStart(6)}%  cold ${fmt(r.coldStartPct, 3).padStart(7)}%  waste ${fmt(r.wastedMemoryGbSeconds, 0).padStart(9)} GB-s`)
        process.stdout.write(lines.join('\n') + `\nwrote ${out}\n`)
      }
      return 0
    }
    const policy = createPolicy(values.policy ?? 'iotless', parseParamFlags(values.param ?? []))
    const result = simulate(trace, policy)
    process.stdout.write((values.json === true ? JSON.stringify(result) : resultTable(result)) + '\n')
    return 0
  }
}
