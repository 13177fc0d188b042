// Issue 14, item 6: across tiers. Two Mosquittos bridged edge to cloud with the configs of docs/bridge/ (only
// ports and folders changed), the link between them through a TCP relay the test breaks, and `iotless adapter`
// (the real CLI, docs/bridge/cloud-iotless.yaml) subscribed on the cloud broker with its dedup window on
// (SQLite). Devices publish structured CloudEvents (QoS 1) to the edge broker. In the middle: first the
// cloud's acknowledgements are lost (the relay drops what comes back, so the bridge sends those messages
// again), then the link is cut for 1.5 s while devices keep publishing, then it comes back.
// Checked: every reading reached the target, none twice; the bridge did send duplicates to the cloud broker
// (counted by a plain subscriber there), and the window (not the target) suppressed them.
import t from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import { once as onceEvent } from 'node:events'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { httpReceiver } from '../helpers/httpReceiver.js'
import { cliPath, repoRoot } from '../helpers/paths.js'
import { startOwnMosquitto } from '../helpers/ownMosquitto.js'
import { tcpRelay } from '../helpers/tcpRelay.js'
import { waitFor } from '../helpers/waitFor.js'

const conf = (name: string): string => readFileSync(join(repoRoot, 'docs', 'bridge', name), 'utf8')
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('edge -> bridge -> cloud -> iotless adapter: a link outage loses nothing, and the dedup window suppresses the bridge\'s duplicates', async (t) => {
  const N = 1500
  const dir = mkdtempSync(join(tmpdir(), 'iotless-bridge-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cloud = await startOwnMosquitto({}, conf('cloud-mosquitto.conf'))
  t.teardown(() => cloud.stop())
  const relay = await tcpRelay(cloud.port)
  t.teardown(() => relay.close())
  const edge = await startOwnMosquitto({ address: `127.0.0.1:${relay.port}` }, conf('edge-mosquitto.conf'))
  t.teardown(() => edge.stop())

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

  const adapter: ChildProcess = spawn(process.execPath, [cliPath, 'adapter', '-c', join(repoRoot, 'docs', 'bridge', 'cloud-iotless.yaml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, IOTLESS_BROKER_URL: cloud.url, IOTLESS_ADAPTER_DEDUP_URL: `sqlite:${join(dir, 'dedup.db')}`, K_SINK: target.url }
  })
  let stderr = ''
  adapter.stderr?.on('data', (b: Buffer) => { stderr += b.toString() })
  const exited = onceEvent(adapter, 'exit')
  t.teardown(async () => { if (adapter.exitCode === null && adapter.signalCode === null) { adapter.kill('SIGKILL'); await exited } })

  const device = await mqtt.connectAsync(edge.url, { clientId: `device-${process.pid}`, reconnectPeriod: 0 })
  t.teardown(() => device.endAsync(true))
  const reading = (i: number): string => JSON.stringify({ specversion: '1.0', id: `r-${i}`, source: 'urn:iotless:test:edge-1/dev-7', type: 'reading', datacontenttype: 'application/json', data: { i, celsius: 20 + (i % 7) } })
  // The bridge is up and the adapter subscribed once a probe goes all the way through.
  await waitFor('a probe crosses the bridge to the adapter', async () => {
    await device.publishAsync('sensors/dev-7/reading', reading(-1), { qos: 1 })
    await sleep(200)
    return dispatched.has('r--1')
  }, 30_000, 300)

  const sends: Array<Promise<unknown>> = []
  const publish = async (from: number, to: number): Promise<void> => {
    for (let i = from; i < to; i++) {
      sends.push(device.publishAsync('sensors/dev-7/reading', reading(i), { qos: 1 }))
      if (i % 25 === 24) await sleep(25) // ~1,000 readings/s
    }
  }
  await publish(0, 500)
  relay.dropReplies() // the cloud takes readings in, its PUBACKs never reach the edge
  await publish(500, 600)
  await sleep(300)
  relay.cut() // the link is down; devices keep publishing to the edge broker
  await publish(600, 1000)
  await sleep(1500)
  relay.restore()
  await publish(1000, N)
  await Promise.all(sends)

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
  adapter.kill('SIGTERM')
  await exited
  t.notMatch(stderr, /STORE_UNAVAILABLE/, 'the store never failed')
})
