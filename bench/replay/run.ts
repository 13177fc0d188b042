/**
 * Replay with and without prefetch: for each trace window, `iotless up` runs as a child process with the replay
 * config (`iotless replay --write-config`), once with prefetch off (the pool's fixed keep-alive of 10 trace
 * minutes), once with prefetch on (iotless policy) and once with prefetch on and a lead; `iotless replay` (a child
 * process too) replays the window against it. Prints a Markdown table and the commands. About 5-7 minutes.
 *
 *   npm run bench:replay            (or: npm run build && node dist/bench/replay/run.js)
 */
import { spawn, execFile } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ReplayReport } from '../../prefetch/replay/runReplay.js'
import { loadTrace } from '../../prefetch/traces/loadTrace.js'
import { buildSchedule, scheduleTrace, type ScheduleOptions } from '../../prefetch/replay/replaySchedule.js'
import { createPolicy } from '../../prefetch/policies/policies.js'
import { simulate } from '../../prefetch/sim/simulate.js'
import type { TraceFormat } from '../../prefetch/traces/trace.js'

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const cli = join(root, 'dist/cli/iotless.js')
const out = join(root, 'bench/out/replay')
const traces = resolve(root, '..', 'shared', 'traces')

interface Window { name: string; format: TraceFormat; dir: string; schedule: ScheduleOptions }
const WINDOWS: Window[] = [
  { name: 'ulb', format: 'ulb', dir: join(traces, 'ulb-sensornet-library1'), schedule: { startMinute: 0, minutes: 60, functions: 19, select: 'busiest', maxPerMinute: 10 } },
  { name: 'azure2019', format: 'azure2019', dir: join(traces, 'azure2019-500fn-8h'), schedule: { startMinute: 120, minutes: 60, functions: 16, select: 'intermittent', maxPerMinute: 10 } }
]
const WARMUP_MINUTES = 10

function replayArgsOf (w: Window): string[] {
  const s = w.schedule
  return ['--trace', w.format, '--dir', w.dir, '--start-minute', String(s.startMinute), '--minutes', String(s.minutes), '--functions', String(s.functions), '--select', s.select, '--max-per-minute', String(s.maxPerMinute), '--warmup-minutes', String(WARMUP_MINUTES)]
}

/** What the simulator predicts for the same window: cold starts (minutes) under the policy each stack runs. */
function simulated (w: Window): { off: number; on: number } {
  const trace = loadTrace(w.dir, w.format)
  const window = scheduleTrace(trace, buildSchedule(trace, w.schedule))
  return {
    off: simulate(window, createPolicy('fixed', { keepAliveMin: 10 }), { timeDecisions: false }).coldStarts,
    on: simulate(window, createPolicy('iotless'), { timeDecisions: false }).coldStarts
  }
}
const SPEEDUP = 60
const VARIANTS: Array<{ name: string; flags: string[] }> = [
  { name: 'prefetch off (keep-alive 10 trace min)', flags: ['--no-prefetch'] },
  { name: 'prefetch on (iotless)', flags: [] },
  { name: 'prefetch on (iotless), lead 500 ms', flags: ['--lead-ms', '500'] }
]

function freePort (): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => done(p)) })
  })
}

function run (args: string[]): Promise<string> {
  return new Promise((done, fail) => {
    execFile(process.execPath, [cli, ...args], { maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      if (err !== null) fail(new Error(`iotless ${args.join(' ')}: ${stderr}`)); else done(stdout)
    })
  })
}

async function waitHttp (url: string, ms: number): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    try { const r = await fetch(url); if (r.ok) return } catch { /* not yet */ }
    if (Date.now() > end) throw new Error(`${url} did not answer within ${ms} ms`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

const fmt = (n: number | undefined, d = 1): string => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(d))

async function main (): Promise<void> {
  mkdirSync(out, { recursive: true })
  const rows: string[] = []
  const steady: string[] = []
  const sims: string[] = []
  const commands: string[] = []
  for (const w of WINDOWS) {
    const sim = simulated(w)
    sims.push(`| ${w.name} | ${sim.off} | ${sim.on} |`)
    for (const v of VARIANTS) {
      const brokerPort = await freePort()
      const metricsPort = await freePort()
      const tag = `${w.name}-${v.flags.length === 0 ? 'on' : v.flags[0] === '--no-prefetch' ? 'off' : 'on-lead'}`
      const cfg = join(out, `${tag}.json`)
      const writeArgs = ['replay', '--write-config', cfg, '--functions', String(w.schedule.functions), '--speedup', String(SPEEDUP), '--broker-port', String(brokerPort), '--metrics-port', String(metricsPort), ...v.flags]
      await run(writeArgs)
      const up = spawn(process.execPath, [cli, 'up', '-c', cfg], { stdio: ['ignore', 'ignore', 'inherit'] })
      const exited = new Promise<number | null>((r) => up.on('exit', (c) => r(c)))
      try {
        await waitHttp(`http://127.0.0.1:${metricsPort}/metrics`, 20_000)
        const replayArgs = ['replay', ...replayArgsOf(w), '--url', `mqtt://127.0.0.1:${brokerPort}`, '--speedup', String(SPEEDUP), '--metrics-url', `http://127.0.0.1:${metricsPort}/metrics`, '--svg', join(out, `${tag}.svg`), '--json']
        const r = JSON.parse(await run(replayArgs)) as ReplayReport
        process.stderr.write(`${tag}: ${JSON.stringify(r)}\n`)
        rows.push(`| ${w.name} | ${v.name} | ${r.messages} | ${r.lost} | ${fmt(r.p50Ms)} | ${fmt(r.p99Ms)} | ${fmt(r.maxMs)} | ${r.coldStarts} | ${fmt(r.coldP50Ms)} | ${fmt(r.warmP50Ms)} | ${r.instancesStarted ?? '-'} | ${fmt(r.warmInstanceSeconds, 0)} | ${fmt(r.publishLagP99Ms)} |`)
        const a = r.afterWarmup
        if (a !== undefined) steady.push(`| ${w.name} | ${v.name} | ${a.messages} | ${a.lost} | ${fmt(a.p50Ms)} | ${fmt(a.p99Ms)} | ${fmt(a.maxMs)} | ${a.coldStarts} |`)
        commands.push(`node dist/cli/iotless.js ${writeArgs.join(' ')}`.replaceAll(root + '/', ''), `node dist/cli/iotless.js up -c ${cfg.replace(root + '/', '')} &`, `node dist/cli/iotless.js ${replayArgs.join(' ')}`.replaceAll(root + '/', '').replaceAll(traces, '../shared/traces'))
      } finally {
        up.kill('SIGTERM')
        await exited
      }
    }
  }
  process.stdout.write([
    `Speed-up ${SPEEDUP}x (one trace minute = ${60_000 / SPEEDUP} ms); Node ${process.versions.node}.`,
    '',
    '| trace | stack | messages | lost | p50 ms | p99 ms | max ms | cold starts seen | cold p50 ms | warm p50 ms | instances started | warm instance-s | publish lag p99 ms |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `After the first ${WARMUP_MINUTES} trace minutes (the start-up storm left out):`,
    '',
    '| trace | stack | messages | lost | p50 ms | p99 ms | max ms | cold starts seen |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...steady,
    '',
    'The simulator on the same window (same functions and capped counts; cold starts = minutes with arrivals and no warm instance):',
    '',
    '| trace | fixed 10 min | iotless |',
    '| --- | ---: | ---: |',
    ...sims,
    '',
    '```sh',
    ...commands,
    '```',
    ''
  ].join('\n'))
}

await main()
