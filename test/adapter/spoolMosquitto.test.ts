// Issue 14, the disk spool (adapter.spool) against real Mosquittos of the test's own. Outage: max_queued_messages
// 300, adapter.maxUnacked 64, the target down for 6.5 s while 900 QoS 1 messages arrive at 150/s: without the
// spool the broker drops what is beyond its queue and the adapter's 64 unacknowledged; with it, every message
// is counted exactly once. Kills: 30% refusals and kill -9s of `iotless adapter` while spooled messages wait
// for a target that is down (the broker has acknowledged them: only the spool has them).
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { once as onceEvent } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killRun, type KillRunOptions } from '../helpers/killRun.js'
import { startOwnMosquitto, type OwnMosquitto } from '../helpers/ownMosquitto.js'
import { cliPath } from '../helpers/paths.js'

let small: OwnMosquitto
let big: OwnMosquitto
t.before(async () => {
  small = await startOwnMosquitto({ max_queued_messages: 300, max_inflight_messages: 0 })
  big = await startOwnMosquitto({ max_queued_messages: 200_000, max_inflight_messages: 0 })
})
t.teardown(async () => { await small.stop(); await big.stop() })

async function run (t: Test, name: string, o: Partial<KillRunOptions>): ReturnType<typeof killRun> {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-spool-e2e-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const r = await killRun({ mosquittoUrl: small.url, dir, prefix: `spool-${name}-${process.pid}`, messages: 900, rate: 150, maxUnacked: 64, kills: 0, seed: 14, refuse: 0, outage: { atMs: 0, forMs: 6500 }, ...o })
  t.comment(name, JSON.stringify(r))
  return r
}

t.test('target down 6.5 s, 900 messages at 150/s, broker queue 300: without the spool the broker drops messages', async (t) => {
  const r = await run(t, 'off', { settleMs: 4000 })
  t.ok(r.resets > 0, `the target was down (${r.resets} connections reset)`)
  t.ok(r.missing > 0, `${r.missing} lost by the broker (beyond its max_queued_messages)`)
  t.equal(r.overCounted, 0)
})

t.test('the same with the spool: none lost, none counted twice', async (t) => {
  const r = await run(t, 'on', { spool: {} })
  t.ok(r.resets > 0, `the target was down (${r.resets} connections reset)`)
  t.equal(r.missing, 0, 'every message counted')
  t.equal(r.overCounted, 0, 'no message counted twice')
  t.equal(r.exact, 900)
  t.equal(r.deadLetters, 0)
})

t.test('with the spool, 30% refused and 2 kill -9s while spooled messages wait: every message counted exactly once', async (t) => {
  const r = await run(t, 'kills', { mosquittoUrl: big.url, messages: 1500, rate: undefined, maxUnacked: undefined, spool: {}, refuse: 0.3, kills: 2, killAfterMs: [1000, 2000], outage: { atMs: 0, forMs: 4000 } })
  t.equal(r.killsDone, 2, 'killed twice, with spooled messages pending (the target was down)')
  t.equal(r.missing, 0, 'every message counted')
  t.equal(r.overCounted, 0, 'no message counted twice (once() absorbs re-dispatches)')
  t.equal(r.exact, 1500)
  t.equal(r.deadLetters, 0)
})

t.test('iotless adapter with a spool folder that cannot be opened stops at start-up, naming adapter.spool.dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-spool-bad-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'not-a-folder'), 'x')
  const file = join(dir, 'iotless.yaml')
  writeFileSync(file, JSON.stringify({
    broker: { url: small.url, clientId: `spool-bad-${process.pid}` },
    metrics: { enabled: false },
    prefetch: { enabled: false },
    targets: { t: { kind: 'knative', url: 'http://127.0.0.1:9/' } },
    adapter: { spool: { dir: 'not-a-folder/spool' } },
    routes: [{ topic: 'spool-bad/+', function: 'f', target: 't' }]
  }))
  const child = spawn(process.execPath, [cliPath, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const [code] = await onceEvent(child, 'exit') as [number | null]
  t.equal(code, 1)
  t.match(stderr, /SPOOL_UNAVAILABLE/)
  t.match(stderr, /adapter\.spool\.dir/)
})

t.test('a full spool (1 MiB, 3 MB of messages while the target is down) stops taking messages, which wait in the broker: none lost, none twice', async (t) => {
  const r = await run(t, 'full', { mosquittoUrl: big.url, messages: 3000, rate: undefined, maxUnacked: undefined, payloadBytes: 1000, maxPayloadBytes: 4096, spool: { maxBytes: 1_048_576 }, outage: { atMs: 0, forMs: 4000 } })
  t.equal(r.missing, 0, 'every message counted')
  t.equal(r.overCounted, 0)
  t.equal(r.exact, 3000)
  t.equal(r.deadLetters, 0)
})
