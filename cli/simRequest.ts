import { DEFAULT_KEEP_ALIVE_MS } from '../core/config/schema.js'
import { IotlessError } from '../core/errors.js'
import { parseOptions } from './parseOptions.js'
import { SCALER_KINDS } from '../adapters/runtime/capacity/createScaler.js'
import type { ScalerKind } from '../adapters/runtime/capacity/scaler.js'
import { SLO_DEFAULTS } from '../adapters/runtime/capacity/sloScaler.js'
import { simulateRequests, type RequestSimResult } from '../adapters/runtime/sim/requestSim.js'
import { loadRequestTrace } from '../adapters/runtime/sim/requestTrace.js'
import { TRACE_FORMATS } from '../prefetch/traces/loadTrace.js'
import type { TraceFormat } from '../prefetch/traces/trace.js'

export const requestSimUsage = `Usage: iotless sim --model request --trace PATH [--scaler reactive|kpa|fixed|slo ...] [options] [--json]

Simulates the local pool request by request (docs/capacity.md): instances, concurrency, cold starts, the queue,
keep-alive, the scalers and the box's fair share, with the same planner code the live pool runs.

Options:
  --trace PATH            trace directory (azure2019, ulb) or file (azure2021)
  --trace-format F        ${TRACE_FORMATS.join('|')} (default: detected)
  --scaler NAME           ${SCALER_KINDS.join('|')}; repeatable, or all (default slo)
  --wait-ms N             SLO: longest wait for a slot (default 100)
  --percentile P          SLO: share of requests within it, 0..1 (default 0.95)
  --concurrency N         requests per instance (default 1)
  --max-scale N           instances per function (default 256)
  --keep-alive-ms N       idle time before an instance is reaped (default 600000)
  --cold-start-ms N       spawn + init of one instance started alone (default 250)
  --cold-start-cpus N     CPUs concurrent cold starts share (default 2)
  --cold-start-sharing M  atStart: a start's length fixed when it begins (default); processor: as processes share CPUs
  --max-concurrent-starts N  the box's start gate: starts under way at once, the rest wait FIFO; 0 off (default: --cold-start-cpus)
  --box-instances N       the box's capacity in instances; fair share under overload (default: no limit)
  --fixed-instances N     instances per function of the fixed pool (default 1)
  --hold-ms N             SLO sizer: how long a higher count is held (default 15000)
  --idle-seconds-per-cold-start N  SLO sizer: the warm floor's fixed price, 0 off (default ${SLO_DEFAULTS.idleSecondsPerColdStart})
  --attainment-target P   SLO sizer: the warm floor's price by feedback toward this share of requests within the
                          objective, 0..1; 0 off, the fixed price above (default ${SLO_DEFAULTS.attainmentTarget})
  --burst-factor N        SLO sizer: burst window used at N x the long window's rate, 0 off (default 0; LaSS 2)
  --replenish-ms N        SLO sizer: ready headroom's replacement time, 0 off (default ${SLO_DEFAULTS.replenishMs})
  --none-ready-cold-start-ms N  SLO sizer: while none is ready, start no more than the backlog can use within
                          this cold start; 0 off, one per waiting request (default ${SLO_DEFAULTS.noneReadyColdStartMs})
  --seed N                azure2019: seed of the spread of minutes into requests (default 1)
  --duration-ms N         ulb: service time of a packet (default 50)
  --top N                 keep the N functions with the most requests
  --from-ms N, --length-ms N, --speedup N   cut, shorten or speed up the trace
  --json                  one JSON object per scaler`

function num (name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  if (!Number.isFinite(n) || n < min) throw new IotlessError('CLI_USAGE', `--${name} must be a number >= ${min}, got ${raw}\n\n${requestSimUsage}`)
  return n
}

const fmt = (n: number | undefined, d: number): string => n === undefined || !Number.isFinite(n) ? String(n) : n.toFixed(d)

export function requestResultTable (r: RequestSimResult): string {
  const rows: Array<[string, string]> = [
    ['scaler', r.scaler],
    ['trace', `${r.trace} (${r.traceFormat}, ${r.functions} functions, ${fmt(r.simulatedSeconds, 0)} s)`],
    ['requests', `${r.requests} (${r.rejected} refused)`],
    [`within SLO (wait <= ${r.slo.waitMs} ms)`, `${fmt(r.sloAttainment * 100, 3)}%`],
    ['latency p50 / p95 / p99', `${fmt(r.latencyMsP50, 1)} / ${fmt(r.latencyMsP95, 1)} / ${fmt(r.latencyMsP99, 1)} ms`],
    ['wait p50 / p95 / p99', `${fmt(r.waitMsP50, 1)} / ${fmt(r.waitMsP95, 1)} / ${fmt(r.waitMsP99, 1)} ms`],
    ['instances started', String(r.spawns)],
    ['instance-seconds', `${fmt(r.instanceSeconds, 0)} (${fmt(r.meanInstances, 2)} on average; CPU-seconds ${fmt(r.cpuSeconds, 0)})`],
    ['overload', `${r.overloads} times, ${fmt(r.overloadSeconds, 0)} s; Jain ${fmt(r.jainUnderOverload ?? undefined, 3)}; allocation p50/max ${fmt(r.reallocationMsP50, 1)}/${fmt(r.reallocationMsMax, 1)} ms`],
    ['guaranteed requests', `${r.guaranteedRequests} (${r.guaranteedWithinSlo} within SLO)`],
    ['simulated in', `${fmt(r.simSeconds, 2)} s, heap ${fmt(r.heapMb, 0)} MB`]
  ]
  const steps = r.warmPriceSteps
  if (steps !== undefined) rows.splice(rows.length - 1, 0, ['warm floor price (feedback)', priceSummary(steps)])
  const w = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')
}

/** How the feedback price moved: its last value, its range and the batches judged. */
export function priceSummary (steps: ReadonlyArray<{ seconds: number }>): string {
  if (steps.length === 0) return 'no batch judged yet (starting price)'
  const xs = steps.map((x) => x.seconds)
  return `${fmt(xs[xs.length - 1], 1)} s at the end; ${fmt(Math.min(...xs), 1)}..${fmt(Math.max(...xs), 1)} s over ${steps.length} batches`
}

/** `iotless sim --model request ...`, called by cli/sim.ts. */
export function runRequestSim (argv: string[]): number {
  const { values } = parseOptions(argv, {
    model: { type: 'string' },
    trace: { type: 'string' },
    'trace-format': { type: 'string' },
    scaler: { type: 'string', multiple: true },
    'wait-ms': { type: 'string' },
    percentile: { type: 'string' },
    concurrency: { type: 'string' },
    'max-scale': { type: 'string' },
    'keep-alive-ms': { type: 'string' },
    'cold-start-ms': { type: 'string' },
    'cold-start-cpus': { type: 'string' },
    'box-instances': { type: 'string' },
    'fixed-instances': { type: 'string' },
    'hold-ms': { type: 'string' },
    'idle-seconds-per-cold-start': { type: 'string' },
    'burst-factor': { type: 'string' },
    'replenish-ms': { type: 'string' },
    'none-ready-cold-start-ms': { type: 'string' },
    'cold-start-sharing': { type: 'string' },
    'max-concurrent-starts': { type: 'string' },
    'attainment-target': { type: 'string' },
    seed: { type: 'string' },
    'duration-ms': { type: 'string' },
    top: { type: 'string' },
    'from-ms': { type: 'string' },
    'length-ms': { type: 'string' },
    speedup: { type: 'string' },
    json: { type: 'boolean' }
  }, requestSimUsage)
  if (values.trace === undefined) throw new IotlessError('CLI_USAGE', `--trace is required\n\n${requestSimUsage}`)
  const format = values['trace-format']
  if (format !== undefined && !(TRACE_FORMATS as readonly string[]).includes(format)) {
    throw new IotlessError('CLI_USAGE', `--trace-format must be one of ${TRACE_FORMATS.join(', ')}, got ${format}`)
  }
  let scalers = values.scaler ?? ['slo']
  if (scalers.includes('all')) scalers = [...SCALER_KINDS]
  for (const s of scalers) {
    if (!(SCALER_KINDS as readonly string[]).includes(s)) throw new IotlessError('CLI_USAGE', `--scaler must be one of ${SCALER_KINDS.join(', ')} or all, got ${s}`)
  }
  const percentile = num('percentile', values.percentile, 0.95)
  if (!(percentile > 0 && percentile < 1)) throw new IotlessError('CLI_USAGE', `--percentile must be between 0 and 1 (0.95 is p95), got ${values.percentile}`)
  const attainmentTarget = num('attainment-target', values['attainment-target'], SLO_DEFAULTS.attainmentTarget)
  if (!(attainmentTarget < 1)) throw new IotlessError('CLI_USAGE', `--attainment-target must be in [0, 1) (0 off, 0.99 is 99% of requests), got ${values['attainment-target']}`)
  const sharing = values['cold-start-sharing'] ?? 'atStart'
  if (sharing !== 'atStart' && sharing !== 'processor') throw new IotlessError('CLI_USAGE', `--cold-start-sharing must be atStart or processor, got ${sharing}`)
  const trace = loadRequestTrace(values.trace, format as TraceFormat | undefined, {
    seed: num('seed', values.seed, 1),
    defaultDurationMs: num('duration-ms', values['duration-ms'], 50),
    topFunctions: num('top', values.top, 0),
    fromMs: num('from-ms', values['from-ms'], 0),
    lengthMs: num('length-ms', values['length-ms'], 0),
    speedup: num('speedup', values.speedup, 1, 1e-6)
  })
  const out: string[] = []
  for (const s of scalers) {
    const r = simulateRequests(trace, {
      scaler: s as ScalerKind,
      slo: { waitMs: num('wait-ms', values['wait-ms'], 100, 1e-6), percentile },
      concurrency: num('concurrency', values.concurrency, 1, 1),
      maxScale: num('max-scale', values['max-scale'], 256, 1),
      keepAliveMs: num('keep-alive-ms', values['keep-alive-ms'], DEFAULT_KEEP_ALIVE_MS),
      coldStartMs: num('cold-start-ms', values['cold-start-ms'], 250),
      coldStartCpus: num('cold-start-cpus', values['cold-start-cpus'], 2, 1e-6),
      coldStartSharing: sharing,
      maxConcurrentStarts: values['max-concurrent-starts'] === undefined ? undefined : Math.floor(num('max-concurrent-starts', values['max-concurrent-starts'], 0)),
      boxInstances: num('box-instances', values['box-instances'], Infinity, 1),
      fixedInstances: num('fixed-instances', values['fixed-instances'], 1, 1),
      sloSettings: {
        holdMs: num('hold-ms', values['hold-ms'], SLO_DEFAULTS.holdMs),
        idleSecondsPerColdStart: num('idle-seconds-per-cold-start', values['idle-seconds-per-cold-start'], SLO_DEFAULTS.idleSecondsPerColdStart),
        burstFactor: num('burst-factor', values['burst-factor'], SLO_DEFAULTS.burstFactor),
        replenishMs: num('replenish-ms', values['replenish-ms'], SLO_DEFAULTS.replenishMs),
        noneReadyColdStartMs: num('none-ready-cold-start-ms', values['none-ready-cold-start-ms'], SLO_DEFAULTS.noneReadyColdStartMs),
        attainmentTarget
      }
    })
    const { perFunction: _per, warmPriceSteps: _steps, ...summary } = r
    out.push(values.json === true ? JSON.stringify(summary) : requestResultTable(r))
  }
  process.stdout.write(out.join(values.json === true ? '\n' : '\n\n') + '\n')
  return 0
}
