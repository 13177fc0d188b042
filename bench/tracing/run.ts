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
 * Saturation: closed loop, BENCH_WINDOW (500) published but not yet received; messages/s and the adapter's
 * CPU per message (all its threads, and its main thread alone, from /proc/PID/task/TID/schedstat). The modes
 * take turns within each round, each round starting one mode further on, so machine load drifts over all of
 * them alike; medians of the rounds, and each mode's ratio to off in the same round with a sign-test and a
 * bootstrap interval of the median ratio (bench/pairedRatio.ts), held against BENCH_LIMIT (1.05: the issue's 5%).
 * Fixed rate (skipped with BENCH_RATE_SECONDS=0): BENCH_RATE messages/s for BENCH_RATE_SECONDS; the
 * adapter's CPU time per message and latency percentiles, publish -> sink.
 * Results go to stdout and to the `## Tracing: engines side by side` section of bench/RESULTS.md
 * (BENCH_HEADING: another section; BENCH_WRITE_RESULTS=0: stdout only); BENCH_JSON=FILE also writes every round's figures.
 *
 * For deciding 5% on a shared machine: many short rounds of the modes that matter, no fixed-rate phase:
 *   BENCH_MODES=0,2,3 BENCH_ROUNDS=40 BENCH_MESSAGES=4000 BENCH_RATE_SECONDS=0 npm run bench:tracing
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
import { median, pairedRatios, summariseRatios } from '../pairedRatio.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..', '..')
const CLI = path.join(repoRoot, 'dist', 'cli', 'iotless.js')
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 500)
const RATE = Number(process.env.BENCH_RATE ?? 500)
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 4)
/** The cost the paired intervals are held against: 1.05, the issue's 5%. */
const LIMIT = Number(process.env.BENCH_LIMIT ?? 1.05)
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
// BENCH_BEFORE=DIR an earlier tracing implementation, at 100% sampling (BENCH_BEFORE_RATIO: another ratio).
if (process.env.BENCH_PRE_TRACING !== undefined) ALL_MODES.push({ name: `before tracing (${process.env.BENCH_PRE_TRACING_LABEL ?? path.basename(process.env.BENCH_PRE_TRACING)})`, tracing: undefined, root: process.env.BENCH_PRE_TRACING })
if (process.env.BENCH_BEFORE !== undefined) ALL_MODES.push({ name: `${Number(process.env.BENCH_BEFORE_RATIO ?? 1) * 100}%, default engine, ${process.env.BENCH_BEFORE_LABEL ?? path.basename(process.env.BENCH_BEFORE)}`, tracing: { enabled: true, sampleRatio: Number(process.env.BENCH_BEFORE_RATIO ?? 1), recent: 0 }, root: process.env.BENCH_BEFORE })
// BENCH_BEFORE2=DIR: a second such build, at the same ratio, appended after the first (two builds against each other in one run).
if (process.env.BENCH_BEFORE2 !== undefined) ALL_MODES.push({ name: `${Number(process.env.BENCH_BEFORE_RATIO ?? 1) * 100}%, default engine, ${process.env.BENCH_BEFORE2_LABEL ?? path.basename(process.env.BENCH_BEFORE2)}`, tracing: { enabled: true, sampleRatio: Number(process.env.BENCH_BEFORE_RATIO ?? 1), recent: 0 }, root: process.env.BENCH_BEFORE2 })
// BENCH_AA=1: a second adapter with tracing off, appended after those above (an A/A control: what two identical processes differ by on this box).
if (process.env.BENCH_AA === '1') ALL_MODES.push({ name: 'off, a second process (A/A control)', tracing: { enabled: false, recent: 0 } })
// The default config's "off": no export, but the dashboard's ring at its defaults (tracing.recent 50). BENCH_DEFAULT_OFF=1
// adds it for this build; BENCH_DEFAULT_OFF_BEFORE=<dir> adds it for another build too.
if (process.env.BENCH_DEFAULT_OFF === '1') ALL_MODES.push({ name: 'off, default config (dashboard ring)', tracing: { enabled: false } })
if (process.env.BENCH_DEFAULT_OFF_BEFORE !== undefined) ALL_MODES.push({ name: `off, default config (dashboard ring), ${path.basename(process.env.BENCH_DEFAULT_OFF_BEFORE)}`, tracing: { enabled: false }, root: process.env.BENCH_DEFAULT_OFF_BEFORE })
// BENCH_MODES=0,1 runs some of them (default 0,1,2,3: off, SDK 100%, compact 100%, compact 1%; the extra
// builds above are appended, BENCH_MODES names them by their index too); BENCH_CPU_PROF=DIR starts each adapter under --cpu-prof.
const DEFAULT_MODES = [0, 1, 2, 3, ...ALL_MODES.map((_, k) => k).filter((k) => k >= 7)]
const MODES = (process.env.BENCH_MODES === undefined ? DEFAULT_MODES : process.env.BENCH_MODES.split(',').map(Number)).map((k) => ALL_MODES[k] as Mode)
const CPU_PROF = process.env.BENCH_CPU_PROF
/** The RESULTS.md section written (BENCH_HEADING: another, e.g. for a decision run kept beside the default one). */
const HEADING = process.env.BENCH_HEADING ?? 'Tracing: engines side by side'

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

/**
 * CPU seconds the adapter has used: all its threads (the export worker's, libuv's, V8's) and its main (message)
 * thread alone. From /proc/PID/task/TID/schedstat (nanoseconds on CPU, per thread) where the kernel has it,
 * else /proc/PID/stat (user + system, all threads, in clock ticks: 10 ms) with the main thread unknown (NaN).
 * Threads that exited are not counted by the first; Node's threads live as long as the process.
 */
function cpuSeconds (pid: number): { all: number; main: number } {
  try {
    let all = 0
    let main = NaN
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      let ns: number
      try { ns = Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) } catch { continue } // a thread that just exited
      all += ns
      if (tid === String(pid)) main = ns
    }
    if (Number.isFinite(main)) return { all: all / 1e9, main: main / 1e9 }
  } catch { /* no schedstat: below */ }
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return { all: (Number(stat[11]) + Number(stat[12])) / 100, main: NaN }
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

/** One saturation run: msg/s; CPU s per 1000 messages (= ms per message) of the adapter, its main thread, and the OTLP receiver. */
interface Sat { rate: number; cpuPer1000: number; mainPer1000: number; mainBusy: number; otlpPer1000: number }

async function saturate (pub: MqttClient, topic: string, sink: Child, n: number, offset: number, pid?: number, otlpPid?: number): Promise<Sat> {
  await sink.reset()
  const cpu0 = pid === undefined ? undefined : cpuSeconds(pid)
  const otlp0 = otlpPid === undefined ? NaN : cpuSeconds(otlpPid).all
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
  const seconds = (performance.now() - start) / 1000
  const otlpPer1000 = otlpPid === undefined ? NaN : (cpuSeconds(otlpPid).all - otlp0) / n * 1000
  if (pid === undefined || cpu0 === undefined) return { rate: n / seconds, cpuPer1000: NaN, mainPer1000: NaN, mainBusy: NaN, otlpPer1000 }
  const c = cpuSeconds(pid)
  return { rate: n / seconds, cpuPer1000: (c.all - cpu0.all) / n * 1000, mainPer1000: (c.main - cpu0.main) / n * 1000, mainBusy: (c.main - cpu0.main) / seconds, otlpPer1000 }
}

async function fixedRate (pub: MqttClient, topic: string, sink: Child, pid: number, offset: number): Promise<{ cpuPer1000: number; p50: number; p99: number; lost: number }> {
  await sink.reset()
  const n = RATE * RATE_SECONDS
  const cpu0 = cpuSeconds(pid).all
  const start = performance.now()
  for (let i = 0; i < n; i++) {
    const wait = start + (i * 1000) / RATE - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    pub.publish(topic, JSON.stringify({ i: offset + i, t: wallNow() }), { qos: 1 })
  }
  const deadline = performance.now() + 10_000
  while (sink.count < n && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const cpu = cpuSeconds(pid).all - cpu0
  const r = (await sink.ask('report', 'report')).report as { count: number; p50: number; p99: number }
  return { cpuPer1000: cpu / n * 1000, p50: r.p50, p99: r.p99, lost: n - r.count }
}

const fmt = (x: number, d = 3): string => Number.isFinite(x) ? x.toFixed(d) : '-'
const interval = (i: { low: number; high: number } | undefined, d = 3): string => i === undefined ? 'too few rounds' : `${fmt(i.low, d)} to ${fmt(i.high, d)}`

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
    const sat: Sat[][] = MODES.map(() => [])
    const fixed: Array<Array<{ cpuPer1000: number; p50: number; p99: number; lost: number }>> = MODES.map(() => [])
    for (let r = 0; r < ROUNDS; r++) {
      // Each round starts one mode further on (off first, then 100% first, ...): no mode always follows the same one.
      const order = MODES.map((_, j) => (r + j) % MODES.length)
      for (const k of order) {
        const x = await saturate(pub, topics[k] as string, sinks[k] as Child, MESSAGES, (r + 1) * 1e6, adapters[k]?.pid as number, otlp.child.pid)
        sat[k]?.push(x)
        console.log(`round ${r + 1} ${MODES[k]?.name}: ${x.rate.toFixed(0)} msg/s at saturation, ${fmt(x.cpuPer1000)} CPU s per 1000 (main thread ${fmt(x.mainPer1000)}, busy ${fmt(x.mainBusy, 2)}; OTLP receiver ${fmt(x.otlpPer1000)})`)
      }
      if (RATE_SECONDS <= 0) continue
      for (const k of order) {
        const f = await fixedRate(pub, topics[k] as string, sinks[k] as Child, adapters[k]?.pid as number, (r + 1) * 1e6 + 5e5)
        fixed[k]?.push(f)
        console.log(`round ${r + 1} ${MODES[k]?.name}: ${RATE}/s fixed: ${f.cpuPer1000.toFixed(3)} CPU s per 1000, p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms, lost ${f.lost}`)
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2000)) // the last batch of spans
    const spans = ((await otlp.ask('report', 'report')).report as { spans: number; requests: number })
    const loadAfter = os.loadavg()
    if (process.env.BENCH_JSON !== undefined) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify({ modes: MODES.map((m) => m.name), sat, fixed, loadBefore, loadAfter }))
    const off = sat[0] ?? []
    const base = median(off.map((x) => x.rate))
    const baseSatCpu = median(off.map((x) => x.cpuPer1000))
    const baseMain = median(off.map((x) => x.mainPer1000))
    const baseCpu = median((fixed[0] ?? []).map((f) => f.cpuPer1000))
    const rows = MODES.map((m, k) => {
      const xs = sat[k] ?? []
      const s = median(xs.map((x) => x.rate))
      const f = fixed[k] ?? []
      const cpu = median(f.map((x) => x.cpuPer1000))
      const sc = median(xs.map((x) => x.cpuPer1000))
      const mc = median(xs.map((x) => x.mainPer1000))
      return `| ${m.name} | ${s.toFixed(0)} | ${fmt(s / base)} | ${fmt(sc)} | ${fmt(sc / baseSatCpu)} | ${fmt(mc)} | ${fmt(mc / baseMain)} | ${fmt(median(xs.map((x) => x.mainBusy)), 2)} | ${fmt(median(xs.map((x) => x.otlpPer1000)))} | ${f.length === 0 ? '- | - | - | - | -' : `${fmt(cpu)} | ${fmt(cpu / baseCpu, 2)} | ${fmt(median(f.map((x) => x.p50)), 2)} | ${fmt(median(f.map((x) => x.p99)), 2)} | ${f.reduce((a, x) => a + x.lost, 0)}`} |`
    })
    // Each mode against off in the same round: the load, which drifts between rounds, cancels in the ratio.
    const paired = MODES.slice(1).map((m, j) => {
      const xs = sat[j + 1] ?? []
      const cpu = summariseRatios(pairedRatios(xs.map((x) => x.cpuPer1000), off.map((x) => x.cpuPer1000)), LIMIT)
      const main = summariseRatios(pairedRatios(xs.map((x) => x.mainPer1000), off.map((x) => x.mainPer1000)), LIMIT)
      // Throughput as time per message against off's, so that the same limit reads the same way (1 / 0.95 ~ 1.053; 1.05 is the stricter).
      const tput = summariseRatios(pairedRatios(off.map((x) => x.rate), xs.map((x) => x.rate)), LIMIT)
      const verdict = (r: typeof cpu): string => r.sign === undefined ? 'too few rounds' : r.sign.high < LIMIT ? `**below ${LIMIT}**` : r.sign.low >= LIMIT ? `above ${LIMIT}` : `not decided (${LIMIT} inside)`
      const ratios = pairedRatios(xs.map((x) => x.cpuPer1000), off.map((x) => x.cpuPer1000)).map((x) => x.toFixed(2)).join(' ')
      return { row: `| ${m.name} | ${cpu.n} | ${fmt(cpu.median)} | ${interval(cpu.sign)} (${fmt(cpu.sign?.coverage ?? NaN, 3)}) | ${interval(cpu.bootstrap)} | ${cpu.belowLimit.below}/${cpu.n}, p = ${cpu.belowLimit.p.toPrecision(2)} | ${verdict(cpu)} | ${fmt(main.median)} (${interval(main.sign)}) | ${fmt(1 / tput.median)} (${tput.sign === undefined ? 'too few rounds' : `${fmt(1 / tput.sign.high)} to ${fmt(1 / tput.sign.low)}`}) |`, ratios: `${m.name}: ${ratios}` }
    })
    const section = [
      `## ${HEADING}`,
      '',
      `\`npm run bench:tracing\` (BENCH_MESSAGES=${MESSAGES} BENCH_ROUNDS=${ROUNDS} BENCH_RATE=${RATE} BENCH_RATE_SECONDS=${RATE_SECONDS}${process.env.BENCH_MODES === undefined ? '' : ` BENCH_MODES=${process.env.BENCH_MODES}`}), ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, Node ${process.versions.node}, ${os.cpus().length} cores.`,
      `${MODES.length} \`iotless adapter\` processes, identical but for \`tracing\` (${MODES.map((m) => m.name).join('; ')}; the dashboard ring off in all${MODES.some((m) => m.tracing !== undefined && m.tracing.recent === undefined) ? ' but the default-config modes' : ''}), on one Mosquitto 2 of the bench's own,`,
      'each sending QoS 1 messages to a knative target (the minimal HTTP sink of bench/adapter, its own process); spans exported over OTLP/HTTP (the SDK engine: JSON; compact: protobuf unless it says JSON) to a local receiver',
      '(bench/tracing/otlpSink.ts, its own process, which counts the spans of every export: protobuf by walking its tags and lengths, bench/tracing/countSpans.ts; BENCH_OTLP_DECODE=1 decodes them all). The modes take turns within each round, each round starting one mode further on; medians of the rounds.',
      'CPU: the adapter process\'s time on CPU from /proc/PID/task/*/schedstat (ns, per thread): all threads (the export worker\'s included), and the main (message) thread alone; "busy": the main thread\'s CPU seconds per second of the saturation run (1.00: one core all the time). The OTLP receiver (its own process, a stand-in for a collector) is not the adapter\'s cost, but on this box it takes CPU the adapter could use: its CPU during each mode\'s runs is shown apart (a batch the timer sends after a run ends counts in the next run).',
      '',
      '| tracing | saturation msg/s (median) | vs off | CPU ms per message at saturation, all threads | vs off | main thread | vs off | main thread busy | OTLP receiver, CPU ms per message | CPU ms per message at fixed rate | vs off | p50 ms | p99 ms | lost |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
      `Paired, round by round (each mode's CPU per message at saturation over off's in the same round). Median of the ${ROUNDS} ratios; its 95% distribution-free interval (sign test: order statistics of the ratios, exact coverage in brackets); a percentile bootstrap of the median (10,000 resamples, seed 1); the one-sided sign test of "the median ratio is ${LIMIT} or more" (rounds below ${LIMIT}, and its p); the verdict from the sign-test interval. Then the same median and interval for the main thread's CPU, and the throughput at saturation against off's (median of the paired ratios, sign-test interval).`,
      '',
      `| tracing | rounds | CPU per message vs off, all threads, median | sign-test 95% interval (coverage) | bootstrap 95% interval | rounds below ${LIMIT}, p | the interval against ${LIMIT} | main thread vs off (sign-test interval) | msg/s vs off (sign-test interval) |`,
      '|---|---|---|---|---|---|---|---|---|',
      ...paired.map((p) => p.row),
      '',
      `Ratios round by round (CPU per message, all threads, vs off): ${paired.map((p) => p.ratios).join('; ')}.`,
      '',
      `Spans received by the OTLP receiver: ${spans.spans} in ${spans.requests} exports (3 per traced message: receive, route match, one dispatch attempt; the sink answers with no reply, so there is no reply publish).`,
      `Load average (1, 5, 15 min) before ${loadBefore.map((x) => x.toFixed(2)).join(', ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(', ')} (other helpers share the machine: 2 cores).`
    ].join('\n')
    console.log('\n' + section)
    if (process.env.BENCH_WRITE_RESULTS !== '0') writeResultsSection(repoRoot, HEADING, section)
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
