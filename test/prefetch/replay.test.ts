import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Registry } from 'prom-client'
import { configSchema } from '../../core/config/schema.js'
import { startStack } from '../../cli/stack.js'
import { buildSchedule, phaseOf } from '../../prefetch/replay/replaySchedule.js'
import { replayConfig } from '../../prefetch/replay/replayConfig.js'
import type { Trace } from '../../prefetch/traces/trace.js'
import { cliPath, repoRoot } from '../helpers/paths.js'
import type { ReplayReport } from '../../prefetch/replay/runReplay.js'
import { memoryLog } from '../helpers/silentLog.js'

function series (id: string, minutes: number[], counts: number[]): Trace['functions'][number] {
  return { id, trigger: undefined, minutes: Uint32Array.from(minutes), counts: Uint32Array.from(counts), durationMs: 100, memoryMb: 128 }
}

t.test('schedule: a minute\'s arrivals spread evenly with a per-function phase, capped, in time order', async (t) => {
  const trace: Trace = {
    format: 'azure2019', source: 'x', firstMinuteLabel: 0, minutes: 20,
    functions: [
      series('every', Array.from({ length: 20 }, (_, i) => i), Array.from({ length: 20 }, () => 1)),
      series('burst', [2, 3], [4, 50]),
      series('rare', [5, 15], [1, 1])
    ]
  }
  const s = buildSchedule(trace, { startMinute: 2, minutes: 4, functions: 3, select: 'busiest', maxPerMinute: 10 })
  t.same(s.functions, ['every', 'burst', 'rare'], 'busiest first: active minutes in the window')
  t.equal(s.minutes, 4)
  t.equal(s.capped, 40, '50 in one minute capped to 10')
  const burst = s.events.filter((e) => s.functions[e.fn] === 'burst').map((e) => e.traceMs)
  const ph = phaseOf('burst')
  t.same(burst.slice(0, 4), [0, 1, 2, 3].map((k) => (k + ph) / 4 * 60_000), 'four arrivals spread over minute 2 (window minute 0)')
  t.equal(burst.length, 14)
  t.ok(s.events.every((e, i) => i === 0 || (s.events[i - 1]?.traceMs ?? 0) <= e.traceMs), 'sorted by time')
  t.ok(phaseOf('a') >= 0 && phaseOf('a') < 1 && phaseOf('a') !== phaseOf('b'))
  const inter = buildSchedule(trace, { startMinute: 0, minutes: 20, functions: 5, select: 'intermittent', maxPerMinute: 10 })
  t.same(inter.functions, ['burst', 'rare'], 'intermittent: active in 5-70 % of the minutes')
})

t.test('iotless replay against an in-process stack (embedded aedes, prefetch on): every message answered and timed', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-replay-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // A tiny Azure 2019 trace: f1 every minute, f2 twice in minutes 0 and 4.
  writeFileSync(join(dir, 'invocations.csv'), [
    'HashOwner,HashApp,HashFunction,Trigger,1,2,3,4,5,6',
    'o,a,f1,timer,1,1,1,1,1,1',
    'o,a,f2,http,2,0,0,0,2,0',
    ''
  ].join('\n'))
  const prefix = `replay-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const raw = replayConfig({ functions: 2, topicPrefix: prefix, module: resolve(repoRoot, 'dist/prefetch/replay/replyFunction.js'), speedup: 120, brokerPort: 0, metricsPort: 0, prefetch: true })
  const config = configSchema.parse(raw)
  t.equal(config.prefetch.minuteMs, 500, 'one trace minute = 500 ms at 120x')
  t.equal(config.functions.r0?.keepAliveMs, 5000, 'keep-alive 10 trace minutes, scaled')
  const stack = await startStack({ config, baseDir: dir, log: memoryLog('warn').log, env: process.env, registry: new Registry() })
  t.teardown(() => stack.stop('test done'))
  t.ok(stack.prefetcher !== undefined, 'prefetch runs by default')
  const svg = join(dir, 'latency.svg')
  const out = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(process.execPath, [cliPath, 'replay', '--trace', 'azure2019', '--dir', dir, '--url', stack.brokerUrl,
      '--speedup', '120', '--minutes', '6', '--functions', '2', '--topic-prefix', prefix, '--timeout-ms', '20000', '--warmup-minutes', '2',
      '--metrics-url', `http://127.0.0.1:${stack.metricsPort ?? 0}/metrics`, '--svg', svg, '--json'], (err, stdout, stderr) => {
      done({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
  t.equal(out.code, 0, out.stderr)
  const r = JSON.parse(out.stdout) as ReplayReport
  t.equal(r.messages, 10, '6 + 4 arrivals')
  t.equal(r.replies, 10, 'every message answered')
  t.equal(r.lost, 0)
  t.ok(r.coldStarts >= 2 && r.coldStarts <= 10, `the first message of each function waits for a cold start (${r.coldStarts})`)
  t.ok((r.instancesStarted ?? 0) >= 2, `instances started, from /metrics (${r.instancesStarted})`)
  t.ok(r.p50Ms > 0 && r.p99Ms >= r.p50Ms && r.maxMs >= r.p99Ms, 'p50 <= p99 <= max')
  t.ok(r.warmInstanceSeconds !== undefined && r.warmInstanceSeconds > 0, 'warm instance-seconds sampled')
  t.equal(r.afterWarmup?.messages, 6, 'after trace minute 2: f1 in minutes 2-5, f2 twice in minute 4')
  t.equal(r.afterWarmup?.lost, 0)
  const plot = readFileSync(svg, 'utf8')
  t.match(plot, /^<svg /)
  t.equal((plot.match(/<circle /g) ?? []).length, 10, 'one dot per answered message')
  t.ok(stack.prefetcher !== undefined && stack.prefetcher.stats.ticks >= 5, `the prefetcher ticked each trace minute (${stack.prefetcher?.stats.ticks})`)
})

t.test('replay options are checked', async (t) => {
  const run = (args: string[]): Promise<{ code: number; stderr: string }> => new Promise((done) => {
    execFile(process.execPath, [cliPath, 'replay', ...args], (err, _o, stderr) => done({ code: err === null ? 0 : Number(err.code), stderr }))
  })
  const a = await run(['--trace', 'azure2020', '--dir', '.', '--url', 'mqtt://x'])
  t.equal(a.code, 2)
  t.match(a.stderr, /--trace: expected one of azure2019, azure2021, ulb/)
  const b = await run(['--trace', 'ulb', '--dir', '.', '--url', 'mqtt://x', '--speedup', '0'])
  t.match(b.stderr, /--speedup: expected a number >= 0.001, got "0"/)
})
