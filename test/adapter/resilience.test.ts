import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DispatchResult } from '../../adapters/target.js'
import { publisher } from '../helpers/mqttCollector.js'
import { startOwnMosquitto, type OwnMosquitto } from '../helpers/ownMosquitto.js'
import { cliPath } from '../helpers/paths.js'
import { waitFor } from '../helpers/waitFor.js'
import { adapterConfig, ScriptedTarget, startAdapter } from './adapterSuite.js'

/** An HTTP receiver standing in for a Knative Service: counts every payload it accepts, by body. */
async function receiver (t: Test): Promise<{ url: string; counts: Map<string, number>; byReplica: Map<string, number>; total: () => number }> {
  const counts = new Map<string, number>()
  const byReplica = new Map<string, number>()
  let total = 0
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString()
      counts.set(body, (counts.get(body) ?? 0) + 1)
      const source = String(req.headers['ce-source'] ?? '')
      byReplica.set(source, (byReplica.get(source) ?? 0) + 1)
      total++
      res.writeHead(200).end()
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, counts, byReplica, total: () => total }
}

interface Replica { child: ChildProcess; exited: Promise<unknown[]> }

function writeConfig (t: Test, brokerUrl: string, clientId: string, filter: string, sinkUrl: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-adapter-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'iotless.yaml')
  writeFileSync(file, JSON.stringify({
    broker: { url: brokerUrl, clientId, sessionExpirySeconds: 300 },
    metrics: { enabled: false },
    log: { level: 'warn' },
    adapter: { maxInFlight: 256, shutdownGraceMs: 5000 },
    targets: { receiver: { kind: 'knative', url: `${sinkUrl}/{function}`, connections: 16 } },
    routes: [{ topic: filter, function: 'count', target: 'receiver', qos: 1, maxInFlight: 256 }]
  }))
  return file
}

function startReplica (t: Test, config: string): Replica {
  const child = spawn(process.execPath, [cliPath, 'adapter', '-c', config], { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = once(child, 'exit')
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  return { child, exited }
}

async function killHard (r: Replica): Promise<void> {
  r.child.kill('SIGKILL')
  await r.exited
}

let broker: OwnMosquitto
t.before(async () => {
  // Its own Mosquitto: restarted below, and with a queue big enough for 20,000 QoS 1 messages while the
  // adapter is down (the default max_queued_messages, 1000, would drop the rest: see docs/adapter.md).
  broker = await startOwnMosquitto({ max_queued_messages: 100_000, max_inflight_messages: 0 })
})
t.teardown(() => broker.stop())

t.test('kill -9 the adapter in the middle of 20,000 QoS 1 messages, restart it: every message delivered at least once', async (t) => {
  const sink = await receiver(t)
  const topic = `kill9-${process.pid}`
  const config = writeConfig(t, broker.url, `iotless-kill9-${process.pid}`, `${topic}/#`, sink.url)
  const first = startReplica(t, config)
  await waitFor('the first adapter subscribed', async () => {
    const p = await publisher(broker.url)
    await p.publishAsync(`${topic}/probe`, 'probe', { qos: 1 })
    await p.endAsync()
    return sink.counts.has('probe')
  }, 15_000, 200)
  const pub = await publisher(broker.url)
  t.teardown(() => pub.endAsync(true))
  const n = 20_000
  const sending = (async () => {
    for (let i = 0; i < n; i += 500) {
      await Promise.all(Array.from({ length: Math.min(500, n - i) }, (_, k) => pub.publishAsync(`${topic}/m`, `m${i + k}`, { qos: 1 })))
    }
  })()
  await waitFor('some messages delivered', () => sink.total() > 3000, 60_000, 5)
  await killHard(first)
  const atKill = sink.counts.size
  await sending
  const second = startReplica(t, config)
  await waitFor('every message delivered', () => {
    for (let i = 0; i < n; i++) if (!sink.counts.has(`m${i}`)) return false
    return true
  }, 120_000, 200)
  const dups = [...sink.counts.entries()].filter(([k, c]) => k !== 'probe' && c > 1).length
  t.pass(`all ${n} delivered; ${atKill - 1} before the kill; ${dups} delivered more than once (at least once, not exactly once)`)
  t.ok(atKill - 1 < n, 'the kill came before the end')
  second.child.kill('SIGTERM')
  t.equal((await second.exited)[0] as number | null, 0, 'the restarted adapter stops cleanly on SIGTERM')
})

t.test('two replicas on a shared subscription split the load; kill one mid-stream: the other goes on, and nothing is lost once it is back', async (t) => {
  const sink = await receiver(t)
  const topic = `share-${process.pid}`
  const filter = `$share/iotless/${topic}/#`
  // Each replica has its own fixed client id (in Kubernetes: a StatefulSet pod name), so a restarted
  // replica resumes its session and gets what the broker kept for it.
  const configA = writeConfig(t, broker.url, `iotless-share-a-${process.pid}`, filter, sink.url)
  const a = startReplica(t, configA)
  startReplica(t, writeConfig(t, broker.url, `iotless-share-b-${process.pid}`, filter, sink.url))
  const pub = await publisher(broker.url, 5)
  t.teardown(() => pub.endAsync(true))
  let probe = 0
  await waitFor('both replicas receiving', async () => {
    await pub.publishAsync(`${topic}/probe`, `probe${probe++}`, { qos: 1 })
    return sink.byReplica.size === 2
  }, 20_000, 100)
  const n = 2000
  await Promise.all(Array.from({ length: n }, (_, i) => pub.publishAsync(`${topic}/m`, `a${i}`, { qos: 1 })))
  await waitFor('first part delivered', () => { for (let i = 0; i < n; i++) if (!sink.counts.has(`a${i}`)) return false; return true }, 30_000, 50)
  const shares = [...sink.byReplica.values()]
  t.equal(shares.length, 2, 'both replicas invoked the function')
  t.ok(Math.min(...shares) > n * 0.2, `the load is split: ${shares.join(' / ')}`)
  // Kill A while messages are flowing.
  sink.byReplica.clear()
  const sending = (async () => {
    for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: 100 }, (_, k) => pub.publishAsync(`${topic}/m`, `b${i + k}`, { qos: 1 })))
  })()
  await waitFor('some of the second part delivered', () => sink.byReplica.size > 0 && [...sink.byReplica.values()].reduce((x, y) => x + y) > 200, 30_000, 5)
  await killHard(a)
  await sending
  const missingWhileDown = (): number => { let m = 0; for (let i = 0; i < n; i++) if (!sink.counts.has(`b${i}`)) m++; return m }
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.comment(`while A was down: ${n - missingWhileDown()} of ${n} delivered (by B); the broker keeps the rest in A's session`)
  startReplica(t, configA)
  await waitFor('everything delivered once A is back', () => missingWhileDown() === 0, 30_000, 50)
  t.equal(missingWhileDown(), 0, 'nothing lost')
})

t.test('a broker restart: the adapter reconnects, resubscribes and goes on', async (t) => {
  const topic = `restart-${process.pid}`
  const target = new ScriptedTarget((): DispatchResult => ({ status: 'ok' }))
  const { lines } = await startAdapter(t, broker.url, adapterConfig(`iotless-restart-${process.pid}`, [{ topic: `${topic}/#`, function: 'f', qos: 1 }]), target)
  const pub1 = await publisher(broker.url)
  await pub1.publishAsync(`${topic}/x`, 'before', { qos: 1 })
  await waitFor('delivered before the restart', () => target.seen.length === 1)
  await pub1.endAsync(true)
  await broker.restart()
  await waitFor('the adapter reconnected and resubscribed', async () => {
    const p = await publisher(broker.url).catch(() => undefined)
    if (p === undefined) return false
    await p.publishAsync(`${topic}/x`, 'after', { qos: 1 })
    await p.endAsync()
    return target.seen.some((e) => e.data.toString() === 'after')
  }, 20_000, 300)
  t.ok(lines.some((l) => l.msg === 'reconnecting to the MQTT broker'), 'the reconnect was logged')
})

t.test('as a ContainerSource / under a SinkBinding: the sink target reads K_SINK and K_CE_OVERRIDES from the environment', async (t) => {
  const headers: Array<Record<string, string | string[] | undefined>> = []
  const server: Server = createServer((req, res) => { headers.push(req.headers); req.resume(); req.on('end', () => res.writeHead(202).end()) })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const dir = mkdtempSync(join(tmpdir(), 'iotless-sink-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const topic = `sink-${process.pid}`
  const file = join(dir, 'iotless.yaml')
  writeFileSync(file, JSON.stringify({
    broker: { url: broker.url, clientId: `iotless-sink-${process.pid}` },
    metrics: { enabled: false },
    log: { level: 'warn' },
    targets: { events: { kind: 'sink' } },
    routes: [{ topic: `${topic}/{dev}`, function: 'readings', target: 'events', type: 'com.example.reading' }]
  }))
  // What a SinkBinding injects; nothing else about the adapter changes.
  const env = { ...process.env, K_SINK: `http://127.0.0.1:${(server.address() as { port: number }).port}/`, K_CE_OVERRIDES: '{"extensions":{"tenant":"acme"}}' }
  const child = spawn(process.execPath, [cliPath, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'], env })
  const exited = once(child, 'exit')
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const pub = await publisher(broker.url)
  t.teardown(() => pub.endAsync(true))
  await waitFor('the event reached K_SINK', async () => {
    await pub.publishAsync(`${topic}/d1`, '{"temp":21}', { qos: 1 })
    return headers.length > 0
  }, 15_000, 300)
  t.match(headers[0], { 'ce-type': 'com.example.reading', 'ce-subject': `${topic}/d1`, 'ce-tenant': 'acme', 'ce-iotlessfunction': 'readings', 'content-type': 'application/json' })
  child.kill('SIGTERM')
  t.equal((await exited)[0] as number | null, 0, 'stops cleanly')
})

t.test('a sink target without K_SINK stops start-up with a message naming it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-sink-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'iotless.yaml')
  writeFileSync(file, JSON.stringify({ broker: { url: broker.url }, metrics: { enabled: false }, targets: { events: { kind: 'sink' } }, routes: [{ topic: 'a/b', function: 'x', target: 'events' }] }))
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.K_SINK
  const child = spawn(process.execPath, [cliPath, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'], env })
  let stderr = ''
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString() })
  const [code] = await once(child, 'exit') as [number | null]
  t.not(code, 0)
  t.match(stderr, /SINK_ENV_MISSING: K_SINK is not set/)
})
