/**
 * Adapter benchmark, side by side in one run on a real Mosquitto 2 (its own instance, started here on a free
 * port with max_inflight_messages 1000, max_queued_messages 100000 and set_tcp_nodelay true, the settings docs/adapter.md
 * advises, BENCH_TCP_NODELAY=0 for Nagle on; BENCH_BROKER=mqtt://... uses another):
 * - the floor: a plain mqtt.js subscriber on the same topic, which invokes nothing;
 * - the iotless adapter (`iotless adapter`, its own process) -> a knative target -> a minimal HTTP sink
 *   that answers 200 at once over keep-alive;
 * for QoS 0 and QoS 1, with micro-batching off and on.
 *
 *   npm run bench:adapter       (BENCH_MESSAGES=20000 BENCH_RATE=1000 BENCH_RATE_SECONDS=3 by default)
 *
 * Saturation: a closed loop keeps BENCH_WINDOW (500) messages published but not yet received, so the broker's
 * per-client queue (Mosquitto max_queued_messages, 1000 by default) never overflows and nothing is dropped:
 * the figure is what the path sustains without loss. Moderate load: a fixed BENCH_RATE messages/s.
 * Latency is publish -> the floor subscriber / the sink receiving the message, on the machine's wall clock
 * (performance.timeOrigin + now in each process). The publisher, the floor subscriber, the sink and the
 * adapter are four processes, so the publisher does not also pay for receiving. Results go to stdout and to the `## Adapter` section of bench/RESULTS.md.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import mqtt, { type MqttClient } from 'mqtt'
import { startOwnMosquitto, type OwnMosquitto } from '../../test/helpers/ownMosquitto.js'
import { writeResultsSection } from '../writeResultsSection.js'
import { dedupRows, dedupTable } from './dedupRows.js'
import { latencyRows, latencyTable } from './latency.js'
import { SPOOL_VARIANTS, spoolCommitCost, spoolTable, startSpoolAdapter, type SpoolRow } from './spoolRows.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..', '..')
const CLI = path.join(repoRoot, 'dist', 'cli', 'iotless.js')
let BROKER = process.env.BENCH_BROKER ?? ''
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 20_000)
const WINDOW = Number(process.env.BENCH_WINDOW ?? 500)
const RATE = Number(process.env.BENCH_RATE ?? 1000)
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 3)
const run = `${process.pid}-${Date.now().toString(36)}`

/** The receiving process (receiver.ts): a floor subscriber or the HTTP sink, counting what arrives. */
class RemoteTracker {
  count = 0
  readonly child: ChildProcess
  #waiters: Array<{ key: string; resolve: (m: Record<string, unknown>) => void }> = []

  constructor (args: string[]) {
    this.child = fork(path.join(here, 'receiver.js'), args, { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
    this.child.on('message', (m: Record<string, unknown>) => {
      if (typeof m.count === 'number') this.count = m.count
      for (const w of [...this.#waiters]) {
        if (w.key in m) { this.#waiters.splice(this.#waiters.indexOf(w), 1); w.resolve(m) }
      }
    })
  }

  next (key: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => { this.#waiters.push({ key, resolve }) })
  }

  async reset (): Promise<void> {
    const done = this.next('reset')
    this.child.send({ cmd: 'reset' })
    await done
    this.count = 0
  }

  async report (): Promise<{ count: number; duplicates: number; p50: number; p99: number }> {
    const done = this.next('report')
    this.child.send({ cmd: 'report' })
    return (await done).report as { count: number; duplicates: number; p50: number; p99: number }
  }

  async close (): Promise<void> {
    const exited = once(this.child, 'exit')
    this.child.send({ cmd: 'exit' })
    await exited
  }
}

/** Wall-clock ms, comparable across processes on this machine. */
const wallNow = (): number => performance.timeOrigin + performance.now()


async function connect (clientId: string, clean = true): Promise<MqttClient> {
  return mqtt.connectAsync(BROKER, { clientId, clean, protocolVersion: 5, reconnectPeriod: 0 })
}

/** Closed loop: at most WINDOW in flight (published, not yet received). Returns messages/s. */
async function saturate (pub: MqttClient, topic: string, qos: 0 | 1, tracker: RemoteTracker, n: number): Promise<{ rate: number; lost: number; duplicates: number }> {
  await tracker.reset()
  let next = 0
  const start = performance.now()
  let lastProgress = start
  let lastCount = 0
  while (tracker.count < n) {
    while (next < n && next - tracker.count < WINDOW) {
      const i = next++
      pub.publish(topic, JSON.stringify({ i, t: wallNow() }), { qos })
    }
    await new Promise((resolve) => setTimeout(resolve, 1))
    if (tracker.count !== lastCount) { lastCount = tracker.count; lastProgress = performance.now() }
    // QoS 0 may lose messages; stop waiting when nothing has arrived for 2 s.
    if (performance.now() - lastProgress > 2000) break
  }
  const seconds = (performance.now() - start) / 1000
  const r = await tracker.report()
  return { rate: r.count / seconds, lost: n - r.count, duplicates: r.duplicates }
}

/** Open loop at a fixed rate; returns latency percentiles. */
async function fixedRate (pub: MqttClient, topic: string, qos: 0 | 1, tracker: RemoteTracker): Promise<{ p50: number; p99: number; lost: number; duplicates: number }> {
  await tracker.reset()
  const n = RATE * RATE_SECONDS
  const start = performance.now()
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / RATE
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    pub.publish(topic, JSON.stringify({ i: i + 10_000_000, t: wallNow() }), { qos })
  }
  const deadline = performance.now() + 5000
  while (tracker.count < n && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  const r = await tracker.report()
  return { p50: r.p50, p99: r.p99, lost: n - r.count, duplicates: r.duplicates }
}

/** The minimal sink, in its own process: 200 at once (or after delayMs); binary-mode bodies and batches. */
async function startSink (delayMs = 0): Promise<{ url: string; tracker: RemoteTracker }> {
  const tracker = new RemoteTracker(['sink', String(delayMs)])
  const m = await tracker.next('url')
  return { url: m.url as string, tracker }
}

async function startAdapter (sinkUrl: string, topic: string, qos: 0 | 1, batch: boolean, adapter: Record<string, unknown> = {}): Promise<ChildProcess> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-adapter-'))
  const file = path.join(dir, 'iotless.json')
  fs.writeFileSync(file, JSON.stringify({
    broker: { url: BROKER, clientId: `bench-adapter-${run}-${topic.replaceAll('/', '-')}`, sessionExpirySeconds: 0 },
    metrics: { enabled: false },
    log: { level: 'warn' },
    adapter: { maxInFlight: 1024, ...adapter },
    targets: { sink: { kind: 'knative', url: sinkUrl, connections: 32 } },
    routes: [{ topic, function: 'sink', target: 'sink', qos, maxInFlight: 1024, ...(batch ? { batch: { maxMessages: 100, maxWaitMs: 2 } } : {}) }]
  }))
  const child = spawn(process.execPath, [CLI, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] })
  return child
}

async function ready (pub: MqttClient, topic: string, tracker: RemoteTracker): Promise<void> {
  await tracker.reset()
  const deadline = performance.now() + 15_000
  while (tracker.count === 0) {
    if (performance.now() > deadline) throw new Error('the adapter did not start delivering within 15 s')
    pub.publish(topic, JSON.stringify({ i: -1, t: wallNow() }), { qos: 1 })
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  await tracker.reset()
}

function cpuSeconds (pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(stat[11]) + Number(stat[12])) / 100
}

function rssMb (pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m === null ? NaN : Number(m[1]) / 1024
}

interface Overload { capacity: number; offered: number; seconds: number; idleRss: number; peakRss: number; lastRss: number; delivered: number; perSecond: number[] }

/**
 * 10x overload: the sink answers after 20 ms and the route allows 32 in flight, so the path carries about
 * 1,600 msg/s; QoS 1 messages are offered as fast as the publisher can for a few seconds. The adapter should
 * stop reading (backpressure) and leave the backlog in the broker: its RSS must stay flat.
 */
async function overload (pub: MqttClient): Promise<Overload> {
  const topic = `bench/${run}/overload`
  const sink = await startSink(20)
  const tracker = sink.tracker
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-adapter-'))
  const file = path.join(dir, 'iotless.json')
  fs.writeFileSync(file, JSON.stringify({
    broker: { url: BROKER, clientId: `bench-overload-${run}`, sessionExpirySeconds: 0 },
    metrics: { enabled: false },
    log: { level: 'warn' },
    adapter: { maxInFlight: 64 },
    targets: { sink: { kind: 'knative', url: sink.url, connections: 32 } },
    routes: [{ topic, function: 'sink', target: 'sink', qos: 1, maxInFlight: 32 }]
  }))
  const child = spawn(process.execPath, [CLI, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] })
  await ready(pub, topic, tracker)
  const pid = child.pid as number
  const idleRss = rssMb(pid)
  const capacity = 32 / 0.020
  const seconds = 5
  const start = performance.now()
  let offered = 0
  let accepted = 0
  let peakRss = idleRss
  const perSecond: number[] = []
  let ticks = 0
  const sampler = setInterval(() => {
    const rss = rssMb(pid)
    peakRss = Math.max(peakRss, rss)
    if (++ticks % 10 === 0) perSecond.push(rss)
  }, 100)
  while (performance.now() - start < seconds * 1000) {
    // Keep at most 2,000 unacknowledged by the broker, so the figure is what the broker took in, not what
    // waits in this process.
    while (offered - accepted < 2000) pub.publish(topic, JSON.stringify({ i: offered++, t: performance.now() }), { qos: 1 }, () => { accepted++ })
    await new Promise((resolve) => setImmediate(resolve))
  }
  const offeredRate = accepted / ((performance.now() - start) / 1000)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  clearInterval(sampler)
  const lastRss = rssMb(pid)
  const delivered = tracker.count
  child.kill('SIGKILL')
  await once(child, 'exit')
  await tracker.close()
  return { capacity, offered: offeredRate, seconds, idleRss, peakRss, lastRss, delivered, perSecond }
}

interface Row { path: string; qos: 0 | 1; batch: boolean; rate: number; rates: number[]; lost: number; p50: number; p99: number; dup: number; cpuPer1k?: number }

const REPEAT = Number(process.env.BENCH_REPEAT ?? 3)
const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] as number + (s[Math.ceil((s.length - 1) / 2)] as number)) / 2 }

/** `repeat` (REPEAT) rounds of saturation then fixed rate on one path; medians, and every round's rate. */
async function measure (pub: MqttClient, topic: string, qos: 0 | 1, tracker: RemoteTracker, pid?: number, repeat = REPEAT): Promise<Omit<Row, 'path' | 'qos' | 'batch'>> {
  const rates: number[] = []; const p50s: number[] = []; const p99s: number[] = []; const cpus: number[] = []
  let lost = 0; let dup = 0
  for (let k = 0; k < repeat; k++) {
    const cpu0 = pid === undefined ? 0 : cpuSeconds(pid)
    const sat = await saturate(pub, topic, qos, tracker, MESSAGES)
    if (pid !== undefined) cpus.push(((cpuSeconds(pid) - cpu0) / MESSAGES) * 1000)
    const fix = await fixedRate(pub, topic, qos, tracker)
    rates.push(sat.rate); p50s.push(fix.p50); p99s.push(fix.p99)
    lost += sat.lost + fix.lost; dup += sat.duplicates + fix.duplicates
  }
  const row: Omit<Row, 'path' | 'qos' | 'batch'> = { rate: median(rates), rates, lost, dup, p50: median(p50s), p99: median(p99s) }
  if (pid !== undefined) row.cpuPer1k = median(cpus)
  return row
}

/**
 * Mosquitto on a free port with the settings a fast subscriber needs (docs/adapter.md, broker settings):
 * set_tcp_nodelay true as the docs advise (BENCH_TCP_NODELAY=0: Mosquitto's default, Nagle on).
 */
async function startMosquitto (): Promise<OwnMosquitto> {
  const mosquitto = await startOwnMosquitto({
    persistence: 'false',
    max_inflight_messages: 1000,
    max_queued_messages: 100_000,
    ...(process.env.BENCH_TCP_NODELAY === '0' ? {} : { set_tcp_nodelay: 'true' })
  })
  BROKER = mosquitto.url
  return mosquitto
}

/** The dedup window's rows (dedupRows.ts), in their own section of bench/RESULTS.md. */
async function dedup (pub: MqttClient): Promise<void> {
  const load0 = os.loadavg()
  const rows = await dedupRows({ pub, run, repeat: REPEAT, messages: MESSAGES, startSink, startAdapter, ready, saturate, fixedRate, cpuSeconds })
  const load1 = os.loadavg()
  const table = dedupTable(rows, RATE)
  console.log(table)
  const section = [
    '## Adapter: dedup window',
    '',
    `Command: \`npm run bench:adapter\` (or \`BENCH_ONLY=dedup node dist/bench/adapter/run.js\` for this part alone; BENCH_MESSAGES=${MESSAGES}, window ${WINDOW}, fixed rate ${RATE}/s for ${RATE_SECONDS} s, BENCH_REPEAT=${REPEAT} alternating rounds: medians; lost and duplicates summed over the rounds).`,
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; load average ${load0.map((x) => x.toFixed(1)).join(' ')} before, ${load1.map((x) => x.toFixed(1)).join(' ')} after (shared machine). Run on ${new Date().toISOString().slice(0, 16)}Z.`,
    'The main table\'s QoS 1 path (`iotless adapter` -> knative target -> HTTP sink, batching off), without and with `adapter.dedup`; the three adapters run side by side on their own topics and are measured in turn, round after round (bench/adapter/dedupRows.ts). Plain payloads: the window records every message before its PUBACK and looks up only redeliveries (none here), so the cost shown is the durable record. PostgreSQL holds the effect log, not the window (docs/effects.md): no row.',
    '',
    table,
    ''
  ].join('\n')
  if (process.env.BENCH_NO_WRITE !== '1') writeResultsSection(repoRoot, 'Adapter: dedup window', section)
}

/** Low-load latency beside the bare round trip (latency.ts), in its own section of bench/RESULTS.md. */
async function latency (): Promise<void> {
  const load0 = os.loadavg()[0] ?? NaN
  const rows = await latencyRows(CLI, path.join(repoRoot, 'dist', 'test', 'fixtures', 'functions', 'echo.js'))
  const load1 = os.loadavg()[0] ?? NaN
  const table = latencyTable(rows)
  console.log(table)
  const section = [
    '## Adapter: latency',
    '',
    'Command: `npm run bench:adapter` (or `BENCH_ONLY=latency node dist/bench/adapter/run.js` for this part alone; `BENCH_ONLY=throughput` for the other).',
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}; load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after (shared machine). Run on ${new Date().toISOString().slice(0, 16)}Z.`,
    'The requester, and the bare responder, are plain mqtt.js clients with TCP_NODELAY in the bench process; iotless runs in its own process (`iotless up` with the embedded broker, `iotless adapter` against its own Mosquitto), the echo test function in the local pool.',
    '',
    table,
    ''
  ].join('\n')
  if (process.env.BENCH_NO_WRITE !== '1') writeResultsSection(repoRoot, 'Adapter: latency', section)
}

/**
 * The disk spool (adapter.spool) beside plain QoS 1, in the same run, on the same broker: its own section of
 * bench/RESULTS.md (`## Adapter: spool`). Rounds alternate between the variants, so drift in the machine's
 * load falls on all of them.
 */
async function spoolBench (pub: MqttClient): Promise<void> {
  const load0 = os.loadavg()
  const commitCost = await spoolCommitCost()
  console.log(commitCost)
  const rounds = new Map<string, Array<Omit<Row, 'path' | 'qos' | 'batch'>>>()
  for (let k = 0; k < REPEAT; k++) {
    for (const v of SPOOL_VARIANTS) {
      const topic = `bench/${run}/spool/${k}/${SPOOL_VARIANTS.indexOf(v)}`
      const sink = await startSink()
      const { child, dir } = startSpoolAdapter(CLI, BROKER, sink.url, topic, `${run}-${k}-${SPOOL_VARIANTS.indexOf(v)}`, v)
      await ready(pub, topic, sink.tracker)
      const one = await measure(pub, topic, 1, sink.tracker, child.pid as number, 1)
      rounds.set(v.name, [...(rounds.get(v.name) ?? []), one])
      child.kill('SIGTERM')
      await once(child, 'exit')
      await sink.tracker.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
  const rows: SpoolRow[] = SPOOL_VARIANTS.map((v) => {
    const rs = rounds.get(v.name) ?? []
    return { name: v.name, rate: median(rs.map((r) => r.rate)), rates: rs.map((r) => r.rate), lost: rs.reduce((a, r) => a + r.lost, 0), dup: rs.reduce((a, r) => a + r.dup, 0), p50: median(rs.map((r) => r.p50)), p99: median(rs.map((r) => r.p99)), cpuPer1k: median(rs.map((r) => r.cpuPer1k ?? NaN)) }
  })
  const load1 = os.loadavg()
  const table = spoolTable(rows, RATE)
  console.log(table)
  const section = [
    '## Adapter: spool',
    '',
    `Command: \`npm run bench:adapter\` (this part alone: \`BENCH_ONLY=spool node dist/bench/adapter/run.js\`; BENCH_MESSAGES=${MESSAGES}, window ${WINDOW}, fixed rate ${RATE}/s for ${RATE_SECONDS} s, ${REPEAT} alternating rounds per path: medians; lost and duplicates summed).`,
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, Mosquitto 2 (own instance: max_inflight_messages 1000, max_queued_messages 100000); load average ${load0.map((x) => x.toFixed(1)).join(' ')} before, ${load1.map((x) => x.toFixed(1)).join(' ')} after (shared machine). Run on ${new Date().toISOString().slice(0, 16)}Z.`,
    '`iotless adapter` -> knative target -> the minimal HTTP sink (200 at once), QoS 1, no batching; with the spool a message is acknowledged once in the spool and delivered from there (docs/spool.md).',
    '',
    table,
    '',
    commitCost,
    ''
  ].join('\n')
  if (process.env.BENCH_NO_WRITE !== '1') writeResultsSection(repoRoot, 'Adapter: spool', section)
}

async function main (): Promise<void> {
  if (!fs.existsSync(CLI)) { console.error(`missing ${CLI}: run npm run build first`); process.exit(1) }
  if (process.env.BENCH_ONLY === 'latency') { await latency(); return }
  if (process.env.BENCH_ONLY === 'spool') {
    const mosquitto = BROKER === '' ? await startMosquitto() : undefined
    const pub = await connect(`bench-pub-${run}`)
    await spoolBench(pub)
    await pub.endAsync()
    await mosquitto?.stop()
    return
  }
  const mosquitto = BROKER === '' ? await startMosquitto() : undefined
  const pub = await connect(`bench-pub-${run}`)
  if (process.env.BENCH_ONLY === 'dedup' || process.env.BENCH_ONLY === undefined) await dedup(pub)
  if (process.env.BENCH_ONLY === 'dedup') { await pub.endAsync(); await mosquitto?.stop(); return }
  const rows: Row[] = []
  for (const qos of [0, 1] as const) {
    // The floor: a plain mqtt.js subscriber, in its own process like the sink.
    {
      const topic = `bench/${run}/floor/${qos}`
      const tracker = new RemoteTracker(['sub', BROKER, topic, String(qos)])
      await tracker.next('ready')
      rows.push({ path: 'floor: mqtt.js subscriber', qos, batch: false, ...await measure(pub, topic, qos, tracker) })
      await tracker.close()
    }
    for (const batch of [false, true]) {
      const topic = `bench/${run}/adapter/${qos}/${batch ? 'b' : 'n'}`
      const sink = await startSink()
      const tracker = sink.tracker
      const child = await startAdapter(sink.url, topic, qos, batch)
      await ready(pub, topic, tracker)
      rows.push({ path: 'iotless adapter -> HTTP sink', qos, batch, ...await measure(pub, topic, qos, tracker, child.pid as number) })
      child.kill('SIGTERM')
      await once(child, 'exit')
      await tracker.close()
    }
  }
  const over = await overload(pub)
  await spoolBench(pub)
  await pub.endAsync()
  await mosquitto?.stop()
  report(rows, over)
  if (process.env.BENCH_ONLY !== 'throughput') await latency()
}

function report (rows: Row[], over: Overload): void {
  const f = (x: number, d = 2): string => Number.isFinite(x) ? x.toFixed(d) : 'n/a'
  const floor = (qos: number): Row | undefined => rows.find((r) => r.qos === qos && r.path.startsWith('floor'))
  const lines = [
    '| path | QoS | batching | msg/s at saturation (median) | each round | ratio to floor | lost | duplicates | p50 ms @' + RATE + '/s | p99 ms @' + RATE + '/s | added p50 ms | adapter CPU s / 1k msgs |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const r of rows) {
    const fl = floor(r.qos)
    lines.push(`| ${r.path} | ${r.qos} | ${r.path.startsWith('floor') ? '-' : r.batch ? '100 msgs / 2 ms' : 'off'} | ${f(r.rate, 0)} | ${r.rates.map((x) => f(x, 0)).join(', ')} | ${fl === undefined ? '' : f(r.rate / fl.rate)} | ${r.lost} | ${r.dup} | ${f(r.p50)} | ${f(r.p99)} | ${fl === undefined || r === fl ? '-' : f(r.p50 - fl.p50)} | ${r.cpuPer1k === undefined ? '-' : f(r.cpuPer1k, 3)} |`)
  }
  const overloadLine = `Overload: the path carries about ${over.capacity.toFixed(0)} msg/s (sink answers after 20 ms, route maxInFlight 32); QoS 1 published (acknowledged by the broker) at ${over.offered.toFixed(0)} msg/s (${(over.offered / over.capacity).toFixed(1)}x) for ${over.seconds} s. Adapter RSS: ${over.idleRss.toFixed(1)} MiB before, peak ${over.peakRss.toFixed(1)} MiB during, ${over.lastRss.toFixed(1)} MiB after; second by second: ${over.perSecond.map((x) => x.toFixed(1)).join(', ')} MiB (${over.delivered} delivered meanwhile; the rest waited in the broker).`
  const table = lines.join('\n') + '\n\n' + overloadLine
  console.log(table)
  const section = [
    '## Adapter',
    '',
    `Command: \`npm run bench:adapter\` (BENCH_MESSAGES=${MESSAGES}, window ${WINDOW}, fixed rate ${RATE}/s for ${RATE_SECONDS} s, BENCH_REPEAT=${REPEAT} rounds per path: medians; lost and duplicates summed over the rounds).`,
    `Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, Mosquitto 2 (${process.env.BENCH_BROKER === undefined ? 'own instance: max_inflight_messages 1000, max_queued_messages 100000' : BROKER}); the publisher in the bench process; the floor subscriber, the sink and the adapter each in its own process. Run on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    table,
    ''
  ].join('\n')
  if (process.env.BENCH_NO_WRITE !== '1') writeResultsSection(repoRoot, 'Adapter', section)
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
