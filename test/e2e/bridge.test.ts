// Issue 14, item 6: across tiers. Two Mosquittos bridged edge to cloud with the configs of docs/bridge/ (only
// ports and folders changed), the link between them through a TCP relay the test breaks, and `iotless adapter`
// (the real CLI, docs/bridge/cloud-iotless.yaml) subscribed on the cloud broker with its dedup window on
// (SQLite). Devices publish structured CloudEvents (QoS 1) to the edge broker. In the middle: first the
// cloud's acknowledgements are lost (the relay drops what comes back, so the bridge sends those messages
// again), then the link is cut for 1.5 s while devices keep publishing, then it comes back.
// Checked: every reading reached the target, none twice; the bridge did send duplicates to the cloud broker
// (counted by a plain subscriber there), and the window (not the target) suppressed them.
// The second test puts the adapter on the edge (docs/bridge/edge-iotless.yaml): its results go up through
// the same bridge and outage; every result reaches the cloud, and a copy the bridge sends twice has the same
// CloudEvent id, derived from its reading's, so a consumer in the cloud can drop it.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once as onceEvent } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient } from 'mqtt'
import { httpReceiver } from '../helpers/httpReceiver.js'
import { cliPath, repoRoot } from '../helpers/paths.js'
import { startOwnMosquitto, type OwnMosquitto } from '../helpers/ownMosquitto.js'
import { tcpRelay, type TcpRelay } from '../helpers/tcpRelay.js'
import { waitFor } from '../helpers/waitFor.js'

const conf = (name: string): string => readFileSync(join(repoRoot, 'docs', 'bridge', name), 'utf8')
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The two brokers of docs/bridge/, the edge one bridged to the cloud one through a relay the test breaks. */
async function tiers (t: Test, placement: 'cloud' | 'edge'): Promise<{ edge: OwnMosquitto; cloud: OwnMosquitto; relay: TcpRelay; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-bridge-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cloud = await startOwnMosquitto({}, conf('cloud-mosquitto.conf'))
  t.teardown(() => cloud.stop())
  const relay = await tcpRelay(cloud.port)
  t.teardown(() => relay.close())
  // With the adapter on the edge, raw readings need not cross the link (docs/bridge.md): that line goes.
  const edgeConf = placement === 'cloud' ? conf('edge-mosquitto.conf') : conf('edge-mosquitto.conf').replace(/^topic sensors\/# out 1$/m, '')
  const edge = await startOwnMosquitto({ address: `127.0.0.1:${relay.port}` }, edgeConf)
  t.teardown(() => edge.stop())
  return { edge, cloud, relay, dir }
}

/** `iotless adapter -c docs/bridge/<file>` with `env`; killed at teardown if still running. */
function adapterProcess (t: Test, file: string, env: NodeJS.ProcessEnv): { child: ChildProcess; exited: Promise<unknown[]>; stderr: () => string } {
  const child = spawn(process.execPath, [cliPath, 'adapter', '-c', join(repoRoot, 'docs', 'bridge', file)], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } })
  let stderr = ''
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = onceEvent(child, 'exit')
  t.teardown(async () => { if (child.exitCode === null && child.signalCode === null) { child.kill('SIGKILL'); await exited } })
  return { child, exited, stderr: () => stderr }
}

const reading = (i: number): string => JSON.stringify({ specversion: '1.0', id: `r-${i}`, source: 'urn:iotless:test:edge-1/dev-7', type: 'reading', datacontenttype: 'application/json', data: { i, celsius: 20 + (i % 7) } })

/** N readings at ~1,000/s with the outage in the middle: the far side's PUBACKs lost for 300 ms, then the link cut for 1.5 s. */
async function publishThroughOutage (device: MqttClient, relay: TcpRelay, n: number): Promise<void> {
  const sends: Array<Promise<unknown>> = []
  const publish = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i++) {
      sends.push(device.publishAsync('sensors/dev-7/reading', reading(i), { qos: 1 }))
      if (i % 25 === 24) await sleep(25)
    }
  }
  await publish(0, n / 3)
  relay.dropReplies() // the far side takes messages in, its PUBACKs never reach the edge
  await publish(n / 3, n * 0.4)
  await sleep(300)
  relay.cut() // the link is down; devices keep publishing to the edge broker
  await publish(n * 0.4, n * 2 / 3)
  await sleep(1500)
  relay.restore()
  await publish(n * 2 / 3, n)
  await Promise.all(sends)
}

t.test('edge -> bridge -> cloud -> iotless adapter: a link outage loses nothing, and the dedup window suppresses the bridge\'s duplicates', async (t) => {
  const N = 1500
  const { edge, cloud, relay, dir } = await tiers(t, 'cloud')

  // What the cloud broker delivers, counted by CloudEvent id: duplicates here are the bridge's.
  const atCloud = new Map<string, number>()
  const watcher = await mqtt.connectAsync(cloud.url, { clientId: `watch-${process.pid}`, reconnectPeriod: 0 })
  t.teardown(() => watcher.endAsync(true))
  watcher.on('message', (_topic, payload) => {
    const id = (JSON.parse(payload.toString()) as { id: string }).id
    atCloud.set(id, (atCloud.get(id) ?? 0) + 1)
  })
  await watcher.subscribeAsync('sensors/#', { qos: 1 })

  // The target: counts successful dispatches per CloudEvent id (no effect log here: any duplicate shows).
  const dispatched = new Map<string, number>()
  const target = await httpReceiver((req, res) => {
    const id = String(req.headers['ce-id'])
    dispatched.set(id, (dispatched.get(id) ?? 0) + 1)
    res.end()
  })
  t.teardown(() => target.close())
  const kept = setInterval(() => { target.received.length = 0 }, 200)
  t.teardown(() => clearInterval(kept))

  const adapter = adapterProcess(t, 'cloud-iotless.yaml', { IOTLESS_BROKER_URL: cloud.url, IOTLESS_ADAPTER_DEDUP_URL: `sqlite:${join(dir, 'dedup.db')}`, K_SINK: target.url })

  const device = await mqtt.connectAsync(edge.url, { clientId: `device-${process.pid}`, reconnectPeriod: 0 })
  t.teardown(() => device.endAsync(true))
  // The bridge is up and the adapter subscribed once a probe goes all the way through.
  await waitFor('a probe crosses the bridge to the adapter', async () => {
    await device.publishAsync('sensors/dev-7/reading', reading(-1), { qos: 1 })
    await sleep(200)
    return dispatched.has('r--1')
  }, 30_000, 300)

  await publishThroughOutage(device, relay, N)

  const ids = Array.from({ length: N }, (_, i) => `r-${i}`)
  await waitFor(`all ${N} readings dispatched`, async () => ids.every((id) => dispatched.has(id)), 60_000, 200)
  await sleep(1500) // stragglers: a late duplicate would show here
  const bridgeDuplicates = ids.reduce((n, id) => n + Math.max(0, (atCloud.get(id) ?? 0) - 1), 0)
  const targetDuplicates = ids.reduce((n, id) => n + Math.max(0, (dispatched.get(id) ?? 0) - 1), 0)
  t.comment(`relay connections ${relay.connections}; bridge duplicates at the cloud broker ${bridgeDuplicates}; duplicate dispatches ${targetDuplicates}`)
  t.equal(ids.filter((id) => !dispatched.has(id)).length, 0, 'every reading reached the target')
  t.equal(ids.filter((id) => !atCloud.has(id)).length, 0, 'every reading reached the cloud broker')
  t.ok(relay.connections >= 2, 'the bridge reconnected after the cut')
  t.ok(bridgeDuplicates > 0, 'the bridge sent again what the cloud had taken but not acknowledged (QoS 1 on the hop)')
  t.equal(targetDuplicates, 0, 'the dedup window acknowledged those without dispatching them again')
  adapter.child.kill('SIGTERM')
  await adapter.exited
  t.notMatch(adapter.stderr(), /STORE_UNAVAILABLE/, 'the store never failed')
})

t.test('edge adapter -> results -> bridge -> cloud: through the outage every result arrives, and a copy the bridge sends twice has the same id', async (t) => {
  const N = 1500
  const { edge, cloud, relay } = await tiers(t, 'edge')
  // The consumer in the cloud: result CloudEvent id -> the reading it answers, and copies per id.
  const copies = new Map<string, number>()
  const inputOf = new Map<string, Set<string>>()
  const consumer = await mqtt.connectAsync(cloud.url, { clientId: `consumer-${process.pid}`, protocolVersion: 5, reconnectPeriod: 0 })
  t.teardown(() => consumer.endAsync(true))
  consumer.on('message', (_topic, _payload, packet) => {
    const up = (packet.properties?.userProperties ?? {}) as Record<string, string>
    const id = String(up.id)
    copies.set(id, (copies.get(id) ?? 0) + 1)
    inputOf.set(id, (inputOf.get(id) ?? new Set()).add(String(up.iotlessinputid)))
  })
  await consumer.subscribeAsync('results/#', { qos: 1 })

  const dispatched = new Map<string, number>()
  const fn = await httpReceiver((req, res) => {
    const id = String(req.headers['ce-id'])
    dispatched.set(id, (dispatched.get(id) ?? 0) + 1)
    // A binary-mode CloudEvent reply with an id of its own, random as a function's would be: the adapter
    // replaces it with one derived from the reading's.
    res.writeHead(200, { 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': `fn-${Math.random()}`, 'ce-source': 'urn:fn:summarise', 'ce-type': 'summary' })
    res.end(JSON.stringify({ summary: id }))
  })
  t.teardown(() => fn.close())
  const kept = setInterval(() => { fn.received.length = 0 }, 200)
  t.teardown(() => clearInterval(kept))
  const adapter = adapterProcess(t, 'edge-iotless.yaml', { IOTLESS_BROKER_URL: edge.url, K_SINK: fn.url })

  const device = await mqtt.connectAsync(edge.url, { clientId: `device-${process.pid}`, reconnectPeriod: 0 })
  t.teardown(() => device.endAsync(true))
  const answered = (): Set<string> => new Set([...inputOf.values()].flatMap((s) => [...s]))
  await waitFor('a probe\'s result crosses the bridge', async () => {
    await device.publishAsync('sensors/dev-7/reading', reading(-1), { qos: 1 })
    await sleep(200)
    return answered().has('r--1')
  }, 30_000, 300)
  await publishThroughOutage(device, relay, N)

  const ids = Array.from({ length: N }, (_, i) => `r-${i}`)
  await waitFor(`all ${N} results at the cloud broker`, async () => { const a = answered(); return ids.every((id) => a.has(id)) }, 60_000, 200)
  await sleep(1500)
  const resultIds = [...inputOf.keys()].filter((id) => !(inputOf.get(id)?.has('r--1') ?? false))
  const duplicateCopies = resultIds.reduce((n, id) => n + (copies.get(id) ?? 0) - 1, 0)
  t.comment(`relay connections ${relay.connections}; results ${resultIds.length}, copies beyond one ${duplicateCopies}`)
  t.equal(ids.filter((id) => dispatched.get(id) !== 1).length, 0, 'on the edge each reading ran once: the outage is not in its path')
  t.equal(resultIds.length, N, 'one result id per reading')
  t.ok(resultIds.every((id) => inputOf.get(id)?.size === 1), 'each result id answers one reading: the copies of a result share its id')
  t.ok(duplicateCopies > 0, 'the bridge sent some results twice (QoS 1 on the hop)')
  adapter.child.kill('SIGTERM')
  await adapter.exited
})
