// Issue 14: effectively once across kill -9s. The smaller version of the benchmark's run (bench/adapter/once.ts
// runs 20,000 messages and 10 kills): 3,000 QoS 1 messages through the test's own Mosquitto to `iotless adapter`
// with the dedup window on (SQLite), a target that refuses 30% of requests and counts the rest with once(),
// 3 kill -9s at seeded random moments, restarted each time: every message counted exactly once.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killRun } from '../helpers/killRun.js'
import { startOwnMosquitto, type OwnMosquitto } from '../helpers/ownMosquitto.js'

let mosquitto: OwnMosquitto
t.before(async () => {
  mosquitto = await startOwnMosquitto({ max_queued_messages: 200_000, max_inflight_messages: 0 })
})
t.teardown(() => mosquitto.stop())

t.test('3,000 messages, 30% refused, 3 kill -9s of iotless adapter with the dedup window (SQLite): final count exact, none missing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-once-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const r = await killRun({
    mosquittoUrl: mosquitto.url,
    dir,
    prefix: `once-${process.pid}`,
    messages: 3000,
    kills: 3,
    seed: 14,
    refuse: 0.3,
    dedupUrl: `sqlite:${join(dir, 'dedup.db')}`,
    killAfterMs: [400, 1200]
  })
  t.comment(JSON.stringify(r))
  t.ok(r.killsDone >= 1, `killed ${r.killsDone} times while messages were still in flight`)
  t.ok(r.refused > 0, `the target refused ${r.refused} requests`)
  t.equal(r.missing, 0, 'every message counted')
  t.equal(r.overCounted, 0, 'no message counted twice')
  t.equal(r.exact, 3000)
  t.equal(r.deadLetters, 0, 'none dead-lettered')
})
