/**
 * Tracing cost, side by side in one run: `iotless adapter` processes on one Mosquitto (its own, on a
 * free port), identical but for tracing: off, the SDK engine at 100% sampling, the compact engine at 100%
 * and at 1% (more with BENCH_MODES: the SDK at 1%, the SDK exporting from the main thread, compact with
 * OTLP JSON), each exporting over
 * OTLP/HTTP to a local receiver (otlpSink.ts, its own process). Each adapter sends to a knative target -> the
 * minimal HTTP sink of bench/adapter (receiver.ts, its own process). QoS 1.
 *
 *   npm run bench:tracing      (BENCH_MESSAGES=10000 BENCH_ROUNDS=3 BENCH_RATE=500 BENCH_RATE_SECONDS=4)
 *
 * Saturation: closed loop, BENCH_WINDOW (500) published but not yet received; messages/s. The three modes
 * take turns, round after round (off, 100%, 1%, off, ...), so machine load drifts over all of them alike;
 * the median of the rounds is reported. Fixed rate: BENCH_RATE messages/s for BENCH_RATE_SECONDS; the
 * adapter's CPU time per 1000 messages (from /proc) and latency percentiles, publish -> sink.
 * Results go to stdout and to the `## Tracing: engines side by side` section of bench/RESULTS.md.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import mqtt, { type MqttClient } from 'mqtt'
import { writeResultsSection } from '../writeResultsSection.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..', '..')
const CLI = path.join(repoRoot, 'dist', 'cli', 'iotless.js')
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 500)
const RATE = Number(process.env.BENCH_RATE ?? 500)
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 4)
const run = `${process.pid}-${Date.now().toString(36)}`
const wallNow = (): number => performance.timeOrigin + performance.now()

class Child {
  count = 0
  readonly child: ChildProcess
  #waiters: Array<{ key: string; resolve: (m: Record<string, unknown>) => void }> = []
  constructor (script: string, args: string[]) {
    this.child = fork(script, args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    this.child.on('message', (m: Record<string, unknown>) => {
      if (typeof m.count === 'number') this.count = m.count
      for (const w of [...this.#waiters]) if (w.key in m) { this.#waiters.splice(this.#waiters.indexOf(w), 1); w.resolve(m) }
    })
  }

  next (key: string): Promise<Record<string, unknown>> { return new Promise((resolve) => { this.#waiters.push({ key, resolve }) }) }
  async ask (cmd: string, key: string): Promise<Record<string, unknown>> { const p = this.next(key); this.child.send({ cmd }); return await p }
  async reset (): Promise<void> { await this.ask('reset', 'reset'); this.count = 0 }
  async close (): Promise<void> { const e = once(this.child, 'exit'); this.child.send({ cmd: 'exit' }); await e }
}

/** One adapter: its tracing section (none: the key is left out), and the built checkout it runs from (default this one). */
interface Mode { name: string; tracing: Record<string, unknown> | undefined; root?: string }
const ALL_MODES: Mode[] = [
  { name: 'off', tracing: { enabled: false, recent: 0 } },
  { name: 'SDK 100%', tracing: { enabled: true, sampleRatio: 1, recent: 0, engine: 'sdk' } },
  { name: 'compact 100%', tracing: { enabled: true, sampleRatio: 1, recent: 0, engine: 'compact' } },
  { name: 'compact 1%', tracing: { enabled: true, sampleRatio: 0.01, recent: 0, engine: 'compact' } },
  { name: 'SDK 1%', tracing: { enabled: true, sampleRatio: 0.01, recent: 0, engine: 'sdk' } },
  { name: 'SDK 100%, export on the main thread', tracing: { enabled: true, sampleRatio: 1, recent: 0, engine: 'sdk', exportThread: 'main' } },
  { name: 'compact 100%, OTLP JSON', tracing: { enabled: true, sampleRatio: 1, recent: 0, engine: 'compact', protocol: 'http/json' } }
]
// Side by side with other builds (a checkout, built, e.g. `git archive <commit> | tar -x -C DIR`, node_modules linked, tsc):
// BENCH_PRE_TRACING=DIR the adapter from before tracing existed (no tracing section in its config: its schema has none);
// BENCH_BEFORE=DIR an earlier tracing implementation, at 100% sampling.
if (process.env.BENCH_PRE_TRACING !== undefined) ALL_MODES.push({ name: `before tracing (${process.env.BENCH_PRE_TRACING_LABEL ?? path.basename(process.env.BENCH_PRE_TRACING)})`, tracing: undefined, root: process.env.BENCH_PRE_TRACING })
if (process.env.BENCH_BEFORE !== undefined) ALL_MODES.push({ name: `OTel 100%, ${process.env.BENCH_BEFORE_LABEL ?? path.basename(process.env.BENCH_BEFORE)}`, tracing: { enabled: true, sampleRatio: 1, recent: 0 }, root: process.env.BENCH_BEFORE })
// BENCH_MODES=0,1 runs some of them (default 0,1,2,3: off, SDK 100%, compact 100%, compact 1%; the extra
// builds above are appended, BENCH_MODES names them by their index too); BENCH_CPU_PROF=DIR starts each adapter under --cpu-prof.
const DEFAULT_MODES = [0, 1, 2, 3, ...ALL_MODES.map((_, k) => k).filter((k) => k >= 7)]
const MODES = (process.env.BENCH_MODES === undefined ? DEFAULT_MODES : process.env.BENCH_MODES.split(',').map(Number)).map((k) => ALL_MODES[k] as Mode)
const CPU_PROF = process.env.BENCH_CPU_PROF
const HEADING = 'Tracing: engines side by side'

async function startMosquitto (): Promise<{ url: string; child: ChildProcess }> {
  const port = await new Promise<number>((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)) }) })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-tracing-'))
  const conf = path.join(dir, 'mosquitto.conf')
  fs.writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest none', 'max_inflight_messages 1000', 'max_queued_messages 100000', ...(process.getuid?.() === 0 ? ['user root'] : [])].join('\n') + '\n')
  const child = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' })
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => { const c = net.connect(port, '127.0.0.1'); c.once('connect', () => { c.destroy(); resolve(true) }); c.once('error', () => resolve(false)) })
    if (up) break
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { url: `mqtt://127.0.0.1:${port}`, child }
}

function startAdapter (broker: string, sinkUrl: string, otlpUrl: string, topic: string, mode: Mode, k: number): ChildProcess {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-tracing-'))
  const file = path.join(dir, 'iotless.json')
  fs.writeFileSync(file, JSON.stringify({
    broker: { url: broker, clientId: `bench-tracing-${run}-${k}`, sessionExpirySeconds: 0 },
    metrics: { enabled: false },
    log: { level: 'warn' },
    adapter: { maxInFlight: 1024 },
    ...(mode.tracing === undefined ? {} : { tracing: { ...mode.tracing, endpoint: otlpUrl } }),
    targets: { sink: { kind: 'knative', url: sinkUrl, connections: 32 } },
    routes: [{ topic, function: 'sink', target: 'sink', qos: 1, maxInFlight: 1024 }]
  }))
  const prof = CPU_PROF === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', CPU_PROF, '--cpu-prof-name', `adapter-${k}.cpuprofile`]
  const cli = mode.root === undefined ? CLI : path.join(mode.root, 'dist', 'cli', 'iotless.js')
  return spawn(process.execPath, [...prof, cli, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] })
}

function cpuSeconds (pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(stat[11]) + Number(stat[12])) / 100
}

async function ready (pub: MqttClient, topic: string, sink: Child): Promise<void> {
  await sink.reset()
  const deadline = performance.now() + 20_000
  while (sink.count === 0) {
    if (performance.now() > deadline) throw new Error(`the adapter on ${topic} did not deliver within 20 s`)
    pub.publish(topic, JSON.stringify({ i: -1, t: wallNow() }), { qos: 1 })
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  await sink.reset()
}

async function saturate (pub: MqttClient, topic: string, sink: Child, n: number, offset: number, pid?: number): Promise<{ rate: number; cpuPer1000: number }> {
  await sink.reset()
  const cpu0 = pid === undefined ? 0 : cpuSeconds(pid)
  let next = 0
  const start = performance.now()
  let lastProgress = start
  let lastCount = 0
  while (sink.count < n) {
    while (next < n && next - sink.count < WINDOW) pub.publish(topic, JSON.stringify({ i: offset + next++, t: wallNow() }), { qos: 1 })
    await new Promise((resolve) => setTimeout(resolve, 1))
    if (sink.count !== lastCount) { lastCount = sink.count; lastProgress = performance.now() }
    if (performance.now() - lastProgress > 5000) throw new Error(`stalled at ${sink.count}/${n} on ${topic}`)
  }
  return { rate: n / ((performance.now() - start) / 1000), cpuPer1000: pid === undefined ? NaN : (cpuSeconds(pid) - cpu0) / n * 1000 }
}

async function fixedRate (pub: MqttClient, topic: string, sink: Child, pid: number, offset: number): Promise<{ cpuPer1000: number; p50: number; p99: number; lost: number }> {
  await sink.reset()
  const n = RATE * RATE_SECONDS
  const cpu0 = cpuSeconds(pid)
  const start = performance.now()
  for (let i = 0; i < n; i++) {
    const wait = start + (i * 1000) / RATE - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    pub.publish(topic, JSON.stringify({ i: offset + i, t: wallNow() }), { qos: 1 })
  }
  const deadline = performance.now() + 10_000
  while (sink.count < n && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const cpu = cpuSeconds(pid) - cpu0
  const r = (await sink.ask('report', 'report')).report as { count: number; p50: number; p99: number }
  return { cpuPer1000: cpu / n * 1000, p50: r.p50, p99: r.p99, lost: n - r.count }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number }

async function main (): Promise<void> {
  const loadBefore = os.loadavg()
  const broker = await startMosquitto()
  const otlp = new Child(path.join(here, 'otlpSink.js'), [])
  const otlpUrl = (await otlp.next('url')).url as string
  const sinks = MODES.map(() => new Child(path.join(repoRoot, 'dist', 'bench', 'adapter', 'receiver.js'), ['sink', '0']))
  const sinkUrls = await Promise.all(sinks.map(async (s) => (await s.next('url')).url as string))
  const topics = MODES.map((_, k) => `bench-tracing/${run}/${k}`)
  const adapters = MODES.map((m, k) => startAdapter(broker.url, sinkUrls[k] as string, otlpUrl, topics[k] as string, m, k))
  const pub = await mqtt.connectAsync(broker.url, { clientId: `bench-tracing-pub-${run}`, protocolVersion: 5, reconnectPeriod: 0 })
  try {
    for (let k = 0; k < MODES.length; k++) await ready(pub, topics[k] as string, sinks[k] as Child)
    // Warm-up: one short saturation each, not counted.
    for (let k = 0; k < MODES.length; k++) await saturate(pub, topics[k] as string, sinks[k] as Child, Math.min(2000, MESSAGES), 1e8)
    const sat: number[][] = MODES.map(() => [])
    const satCpu: number[][] = MODES.map(() => [])
    const fixed: Array<Array<{ cpuPer1000: number; p50: number; p99: number; lost: number }>> = MODES.map(() => [])
    for (let r = 0; r < ROUNDS; r++) {
      for (let k = 0; k < MODES.length; k++) {
        const { rate, cpuPer1000 } = await saturate(pub, topics[k] as string, sinks[k] as Child, MESSAGES, (r + 1) * 1e6, adapters[k]?.pid as number)
        sat[k]?.push(rate)
        satCpu[k]?.push(cpuPer1000)
        console.log(`round ${r + 1} ${MODES[k]?.name}: ${rate.toFixed(0)} msg/s at saturation, ${cpuPer1000.toFixed(3)} CPU s per 1000`)
      }
      for (let k = 0; k < MODES.length; k++) {
        const f = await fixedRate(pub, topics[k] as string, sinks[k] as Child, adapters[k]?.pid as number, (r + 1) * 1e6 + 5e5)
        fixed[k]?.push(f)
        console.log(`round ${r + 1} ${MODES[k]?.name}: ${RATE}/s fixed: ${f.cpuPer1000.toFixed(3)} CPU s per 1000, p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, lost ${f.lost}`)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2000)) // the last batch of spans
    const spans = ((await otlp.ask('report', 'report')).report as { spans: number; requests: number })
    const loadAfter = os.loadavg()
    const base = median(sat[0] as number[])
    const baseSatCpu = median(satCpu[0] as number[])
    // The same ratio, round by round (each mode against off in the same round): less exposed to the load drifting between rounds.
    const roundRatios = (k: number): string => (satCpu[k] ?? []).map((x, r) => (x / ((satCpu[0] ?? [])[r] as number)).toFixed(2)).join(', ')
    const baseCpu = median((fixed[0] ?? []).map((f) => f.cpuPer1000))
    const rows = MODES.map((m, k) => {
      const s = median(sat[k] as number[])
      const f = fixed[k] ?? []
      const cpu = median(f.map((x) => x.cpuPer1000))
      const sc = median(satCpu[k] as number[])
      return `| ${m.name} | ${s.toFixed(0)} | ${(s / base).toFixed(3)} | ${(sat[k] ?? []).map((x) => x.toFixed(0)).join(', ')} | ${sc.toFixed(3)} | ${(sc / baseSatCpu).toFixed(3)} | ${roundRatios(k)} | ${cpu.toFixed(3)} | ${(cpu / baseCpu).toFixed(2)} | ${median(f.map((x) => x.p50)).toFixed(2)} | ${median(f.map((x) => x.p99)).toFixed(2)} | ${f.reduce((a, x) => a + x.lost, 0)} |`
    })
    const section = [
      `## ${HEADING}`,
      '',
      `\`npm run bench:tracing\` (BENCH_MESSAGES=${MESSAGES} BENCH_ROUNDS=${ROUNDS} BENCH_RATE=${RATE} BENCH_RATE_SECONDS=${RATE_SECONDS}), ${new Date().toISOString().slice(0, 10)}, Node ${process.versions.node}, ${os.cpus().length} cores.`,
      `${MODES.length} \`iotless adapter\` processes, identical but for \`tracing\` (${MODES.map((m) => m.name).join('; ')}; the dashboard ring off in all), on one Mosquitto 2 of the bench's own,`,
      'each sending QoS 1 messages to a knative target (the minimal HTTP sink of bench/adapter, its own process); spans exported over OTLP/HTTP (the SDK engine: JSON; compact: protobuf unless it says JSON) to a local receiver',
      '(bench/tracing/otlpSink.ts, its own process, which parses every export). The modes take turns within each round; medians of the rounds.',
      '',
      '| tracing | saturation msg/s (median) | vs off | rounds | CPU s per 1000 msgs at saturation | vs off | vs off, round by round | CPU s per 1000 msgs at fixed rate | vs off | p50 ms | p99 ms | lost |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Spans received by the OTLP receiver: ${spans.spans} in ${spans.requests} exports (3 per traced message: receive, route match, one dispatch attempt; the sink answers with no reply, so there is no reply publish). CPU s: the adapter process's user + system time (all its threads, the export worker's included), from /proc.`,
      `Load average (1, 5, 15 min) before ${loadBefore.map((x) => x.toFixed(2)).join(', ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(', ')} (other helpers share the machine: 2 cores).`
    ].join('\n')
    console.log('\n' + section)
    writeResultsSection(repoRoot, HEADING, section)
  } finally {
    await pub.endAsync(true)
    for (const a of adapters) a.kill('SIGTERM')
    await Promise.all(adapters.map((a) => a.exitCode === null ? once(a, 'exit') : undefined))
    for (const s of sinks) await s.close()
    await otlp.close()
    broker.child.kill()
  }
}

await main()
