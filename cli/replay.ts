import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { IotlessError } from '../core/errors.js'
import type { Command } from './command.js'
import { numberFlag, type NumberRule } from './numberFlag.js'
import { parseOptions } from './parseOptions.js'
import { loadTrace, TRACE_FORMATS } from '../prefetch/traces/loadTrace.js'
import type { TraceFormat } from '../prefetch/traces/trace.js'
import { buildSchedule } from '../prefetch/replay/replaySchedule.js'
import { replayConfig } from '../prefetch/replay/replayConfig.js'
import { runReplay, type ReplayReport } from '../prefetch/replay/runReplay.js'
import { latencySvg } from '../prefetch/replay/latencySvg.js'

const usage = `Usage: iotless replay --trace azure2019|azure2021|ulb --dir PATH --url mqtt://HOST:PORT [options]
       iotless replay --write-config FILE --functions N [--speedup X] [--broker-port P] [--metrics-port P] [--no-prefetch]

Replays a real trace over MQTT against a running stack and measures, for every message, the time from publish
to reply. Function i of the trace (the --functions busiest, or intermittent, ones of the window) publishes on
<prefix>/r<i>/in; the stack must run the reply function (prefetch/replay/replyFunction.ts) for r0..r<N-1>,
which answers on <prefix>/r<i>/out: --write-config writes such an iotless up config (time scaled by --speedup).

Options:
  --trace F              ${TRACE_FORMATS.join('|')}
  --dir PATH             the trace's folder (azure2021: the .csv file or its folder)
  --url URL              the broker the stack listens on
  --speedup X            trace time / real time (default 60: one trace minute per second)
  --minutes N            trace minutes replayed (default 60)
  --start-minute N       first trace minute (default 0)
  --functions N          functions replayed (default 16)
  --select S             busiest | intermittent (active in 5-70 % of the window's minutes) (default busiest)
  --max-per-minute N     cap on one function's arrivals per trace minute (default 10)
  --topic-prefix P       topic prefix (default replay)
  --qos 0|1              publish QoS (default 1)
  --timeout-ms N         wait this long after the last publish for missing replies (default 10000)
  --warmup-minutes N     also report the figures without the first N trace minutes (default 0: not reported)
  --metrics-url URL      the stack's /metrics, to count instances started during the run
  --svg FILE             write the latency-over-time plot here (default replay-latency.svg)
  --json                 print the report as one JSON object
  --write-config FILE    write an iotless up config for the replay instead (YAML is JSON: a .json or .yaml name)
  --broker-port P        with --write-config: embedded broker port (default 18830)
  --metrics-port P       with --write-config: metrics port (default 19464)
  --no-prefetch          with --write-config: prefetch.enabled false (the pool's fixed keep-alive alone)
  --init-ms N            with --write-config: extra init time per instance (default 0)
  --lead-ms N            with --write-config: prefetch.leadMs, pre-warm this many real ms early (default 0)`

function num (field: string, raw: string | undefined, fallback: number, rule: NumberRule): number {
  return numberFlag(field, raw, fallback, rule, usage)
}

function fmt (n: number | undefined, d = 1): string { return n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d) }

export function reportTable (r: ReplayReport): string {
  const rows: Array<[string, string]> = [
    ['trace', `${r.trace}: ${r.functions} functions, ${r.traceMinutes} trace minutes at ${r.speedup}x (${fmt(r.durationSeconds)} s)`],
    ['messages', `${r.messages} sent, ${r.replies} replies, ${r.lost} lost${r.capped > 0 ? ` (${r.capped} arrivals over --max-per-minute not sent)` : ''}`],
    ['latency p50 / p99 / max', `${fmt(r.p50Ms)} / ${fmt(r.p99Ms)} / ${fmt(r.maxMs)} ms (mean ${fmt(r.meanMs)})`],
    ['cold starts seen', `${r.coldStarts} messages waited for an instance to start (p50 ${fmt(r.coldP50Ms)} ms; warm p50 ${fmt(r.warmP50Ms)} ms)`],
    ['instances started', r.instancesStarted === undefined ? '- (no --metrics-url)' : String(r.instancesStarted)],
    ['warm instance-seconds', r.warmInstanceSeconds === undefined ? '- (no --metrics-url)' : `${fmt(r.warmInstanceSeconds)} (instances ready, busy or idle, over the run)`],
    ['publish lag p99', `${fmt(r.publishLagP99Ms)} ms`]
  ]
  const w0 = r.afterWarmup
  if (w0 !== undefined) rows.push([`after minute ${w0.warmupMinutes}`, `${w0.messages} messages, ${w0.lost} lost, p50 / p99 / max ${fmt(w0.p50Ms)} / ${fmt(w0.p99Ms)} / ${fmt(w0.maxMs)} ms, ${w0.coldStarts} cold`])
  const w = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n')
}

export const replayCommand: Command = {
  name: 'replay',
  summary: 'replay a real trace over MQTT; publish-to-reply latency, cold starts, losses, plot',
  usage,
  async run (argv) {
    const { values: v } = parseOptions(argv, {
      trace: { type: 'string' },
      dir: { type: 'string' },
      url: { type: 'string' },
      speedup: { type: 'string' },
      minutes: { type: 'string' },
      'start-minute': { type: 'string' },
      functions: { type: 'string' },
      select: { type: 'string' },
      'max-per-minute': { type: 'string' },
      'topic-prefix': { type: 'string' },
      qos: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'metrics-url': { type: 'string' },
      svg: { type: 'string' },
      json: { type: 'boolean' },
      'write-config': { type: 'string' },
      'broker-port': { type: 'string' },
      'metrics-port': { type: 'string' },
      'no-prefetch': { type: 'boolean' },
      'init-ms': { type: 'string' },
      'warmup-minutes': { type: 'string' },
      'lead-ms': { type: 'string' }
    }, usage)
    const speedup = num('--speedup', v.speedup, 60, { min: 0.001 })
    const functions = num('--functions', v.functions, 16, { min: 1, integer: true })
    const prefix = v['topic-prefix'] ?? 'replay'
    if (/[+#]/.test(prefix) || prefix === '') throw new IotlessError('CLI_USAGE', `--topic-prefix: no wildcards and not empty, got ${JSON.stringify(prefix)}`)
    if (v['write-config'] !== undefined) {
      const cfg = replayConfig({
        functions,
        topicPrefix: prefix,
        module: fileURLToPath(new URL('../prefetch/replay/replyFunction.js', import.meta.url)),
        speedup,
        brokerPort: num('--broker-port', v['broker-port'], 18830, { min: 0, integer: true }),
        metricsPort: num('--metrics-port', v['metrics-port'], 19464, { min: 0, integer: true }),
        prefetch: v['no-prefetch'] !== true,
        ...(v['init-ms'] === undefined ? {} : { initMs: num('--init-ms', v['init-ms'], 0, { min: 0, integer: true }) }),
        leadMs: num('--lead-ms', v['lead-ms'], 0, { min: 0, integer: true })
      })
      writeFileSync(v['write-config'], JSON.stringify(cfg, null, 2) + '\n')
      process.stdout.write(`wrote ${v['write-config']}\n`)
      return 0
    }
    const format = v.trace
    if (format === undefined || !(TRACE_FORMATS as readonly string[]).includes(format)) {
      throw new IotlessError('CLI_USAGE', `--trace: expected one of ${TRACE_FORMATS.join(', ')}, got ${JSON.stringify(format ?? '(none)')}\n\n${usage}`)
    }
    if (v.dir === undefined) throw new IotlessError('CLI_USAGE', `--dir: required (the trace's folder)\n\n${usage}`)
    if (v.url === undefined || !/^(mqtts?|tcp|wss?):\/\//.test(v.url)) throw new IotlessError('CLI_USAGE', `--url: expected mqtt://HOST:PORT, got ${JSON.stringify(v.url ?? '(none)')}\n\n${usage}`)
    const select = v.select ?? 'busiest'
    if (select !== 'busiest' && select !== 'intermittent') throw new IotlessError('CLI_USAGE', `--select: expected busiest or intermittent, got ${JSON.stringify(select)}`)
    const qos = num('--qos', v.qos, 1, { min: 0, integer: true })
    if (qos !== 0 && qos !== 1) throw new IotlessError('CLI_USAGE', `--qos: expected 0 or 1, got ${qos}`)
    const trace = loadTrace(v.dir, format as TraceFormat)
    const schedule = buildSchedule(trace, {
      startMinute: num('--start-minute', v['start-minute'], 0, { min: 0, integer: true }),
      minutes: num('--minutes', v.minutes, 60, { min: 1, integer: true }),
      functions,
      select,
      maxPerMinute: num('--max-per-minute', v['max-per-minute'], 10, { min: 1, integer: true })
    })
    if (schedule.events.length === 0) throw new IotlessError('CLI_USAGE', `--start-minute/--minutes: no arrivals in that window of ${v.dir}`)
    const { report, samples } = await runReplay({
      url: v.url,
      schedule,
      topicPrefix: prefix,
      speedup,
      qos,
      timeoutMs: num('--timeout-ms', v['timeout-ms'], 10_000, { min: 0, integer: true }),
      metricsUrl: v['metrics-url'],
      warmupMinutes: num('--warmup-minutes', v['warmup-minutes'], 0, { min: 0, integer: true })
    }, `${format} ${v.dir}`)
    const svg = v.svg ?? 'replay-latency.svg'
    writeFileSync(svg, latencySvg(samples, `${format}: ${report.functions} functions, ${report.traceMinutes} min at ${speedup}x; p50 ${fmt(report.p50Ms)} ms, p99 ${fmt(report.p99Ms)} ms, ${report.coldStarts} cold`))
    process.stdout.write(v.json === true ? JSON.stringify({ ...report, svg }) + '\n' : `${reportTable(report)}\nplot    ${svg}\n`)
    return 0
  }
}
