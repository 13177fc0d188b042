import t, { type Test } from 'tap'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { ManualClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { createMetrics } from '../../core/metrics.js'
import { FunctionPool, type FunctionPoolOptions } from '../../adapters/runtime/functionPool.js'
import { fixtureFunction } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { processGone, waitFor } from '../helpers/waitFor.js'

function event (data: unknown) {
  const body = Buffer.from(JSON.stringify(data))
  return { headers: toBinaryHeaders({ specversion: '1.0', id: 'e1', source: 'test', type: 't', subject: 's/1', datacontenttype: 'application/json' }), body }
}

function makePool (t: Test, over: Partial<FunctionPoolOptions> = {}) {
  const clock = new ManualClock(1_000_000)
  const registry = new Registry()
  const metrics = createMetrics(registry, { defaultMetrics: false })
  const { log, lines } = memoryLog()
  const pool = new FunctionPool({
    name: 'echo',
    modulePath: fixtureFunction('echo'),
    config: {},
    env: process.env,
    concurrency: 1,
    maxScale: 3,
    keepAliveMs: 600_000,
    initTimeoutMs: 10_000,
    timeoutMs: 10_000,
    clock,
    log,
    metrics,
    ...over
  })
  t.teardown(() => pool.close())
  return { pool, clock, registry, metrics, lines }
}

type Reply = { pid: number; id?: unknown; subject?: string }
function parse (r: { reply?: { data: Buffer } }): Reply {
  return JSON.parse((r.reply as { data: Buffer }).data.toString('utf8')) as Reply
}

t.test('a cold start, then warm invocations that do not spawn', async (t) => {
  const { pool, registry } = makePool(t)
  const first = await pool.invoke(event({ id: 1 }))
  t.equal(first.coldStart, true, 'the first call waited for an instance')
  t.equal(pool.spawnCount, 1)
  const second = await pool.invoke(event({ id: 2 }))
  const third = await pool.invoke(event({ id: 3 }))
  t.equal(pool.spawnCount, 1, 'the second and third calls did not spawn')
  t.equal(second.coldStart, false)
  t.equal(parse(second).pid, parse(first).pid, 'same instance process served them')
  t.equal(parse(third).pid, parse(first).pid)
  t.equal(parse(second).subject, 's/1', 'the CloudEvent reached the function')
  const text = await registry.metrics()
  t.match(text, /iotless_cold_starts_total\{function="echo"\} 1/)
  t.match(text, /iotless_invocations_total\{function="echo",outcome="ok"\} 3/)
  t.match(text, /iotless_warm_instances\{function="echo"\} 1/)
})

t.test('scales up to maxScale under concurrent load, and no further', async (t) => {
  const { pool } = makePool(t, { maxScale: 3 })
  const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => pool.invoke(event({ id: i, sleepMs: 300 }))))
  t.equal(pool.spawnCount, 3, 'three instances for six concurrent 300 ms calls with concurrency 1')
  t.equal(pool.warmInstances, 3)
  t.equal(new Set(replies.map((r) => parse(r).pid)).size, 3, 'work was spread over the three processes')
})

t.test('per-instance concurrency lets one instance take several calls', async (t) => {
  const { pool } = makePool(t, { concurrency: 4, maxScale: 2 })
  const replies = await Promise.all(Array.from({ length: 4 }, (_, i) => pool.invoke(event({ id: i, sleepMs: 200 }))))
  t.equal(pool.spawnCount, 1, 'four concurrent calls fit one instance with concurrency 4')
  t.equal(new Set(replies.map((r) => parse(r).pid)).size, 1)
})

t.test('the bounded queue refuses work past 10 x concurrency x maxScale', async (t) => {
  const { pool } = makePool(t, { concurrency: 1, maxScale: 1 })
  // 1 in flight + 10 queued fit; the 12th is refused at once.
  const calls = Array.from({ length: 12 }, (_, i) => pool.invoke(event({ id: i, sleepMs: 50 })).then(() => 'ok', (e: { code?: string }) => e.code))
  const results = await Promise.all(calls)
  t.equal(results.filter((r) => r === 'ok').length, 11)
  t.same(results.filter((r) => r !== 'ok'), ['BREAKER_QUEUE_FULL'])
})

t.test('scale to zero after the keep-alive, driven by the injected clock', async (t) => {
  const { pool, clock, registry } = makePool(t, { maxScale: 2, keepAliveMs: 600_000 })
  await Promise.all([pool.invoke(event({ sleepMs: 200 })), pool.invoke(event({ sleepMs: 200 }))])
  t.equal(pool.warmInstances, 2)
  const pids = pool.pids
  clock.advance(599_999)
  t.equal(pool.warmInstances, 2, 'still warm one millisecond before the keep-alive ends')
  clock.advance(1)
  t.equal(pool.warmInstances, 0, 'both reaped when the keep-alive ends')
  await waitFor('instance processes to exit', () => pids.every(processGone))
  t.match(await registry.metrics(), /iotless_warm_instances\{function="echo"\} 0/)
  const again = await pool.invoke(event({ id: 'after' }))
  t.equal(again.coldStart, true, 'the next call after scale-to-zero is a cold start')
  t.equal(pool.spawnCount, 3)
})

t.test('a use within the keep-alive restarts its countdown', async (t) => {
  const { pool, clock } = makePool(t, { keepAliveMs: 1000 })
  await pool.invoke(event({}))
  clock.advance(900)
  await pool.invoke(event({}))
  clock.advance(900)
  t.equal(pool.warmInstances, 1, 'kept: only 900 ms idle since the last call')
  clock.advance(100)
  t.equal(pool.warmInstances, 0)
})

t.test('an instance that crashes under several requests: each is retried once on a fresh instance', async (t) => {
  const { pool, registry } = makePool(t, { concurrency: 2, maxScale: 1 })
  const dir = mkdtempSync(join(tmpdir(), 'iotless-crash-'))
  const first = await pool.invoke(event({ id: 'warm' }))
  // Two on the one instance; the crash takes both, and neither is known to be the culprit.
  const [bystander, crashy] = await Promise.all([pool.invoke(event({ id: 'bystander', sleepMs: 300 })), pool.invoke(event({ id: 'crashy', exitOnce: dir }))])
  t.equal(parse(crashy).id, 'crashy', 'the retry on a new instance answered')
  t.equal(parse(bystander).id, 'bystander', 'and the bystander too')
  t.not(parse(crashy).pid, parse(first).pid, 'a different process answered')
  t.equal(pool.spawnCount, 2, 'one replacement instance')
  const text = await registry.metrics()
  t.match(text, /iotless_instance_crashes_total\{function="echo"\} 1/)
})

t.test('a message that crashes its instance alone is poison: reported at its first crash, not retried', async (t) => {
  // Issue 11: each crash used to cost two processes, and the adapter retried it maxAttempts times.
  const { pool, registry } = makePool(t)
  await pool.invoke(event({ id: 'warm' }))
  await t.rejects(pool.invoke(event({ exit: 7 })), { code: 'FUNCTION_CRASHED', message: /alone.*not retried/, details: { poison: true } })
  t.equal(pool.spawnCount, 1, 'no process started for it after the crash')
  t.match(await registry.metrics(), /iotless_invocations_total\{function="echo",outcome="crashed"\} 1/)
  const ok = await pool.invoke(event({ id: 'next' }))
  t.equal(parse(ok).id, 'next', 'the pool keeps serving')
  t.equal(pool.spawnCount, 2, 'one replacement, for the next message')
})

t.test('a message sent to an instance that stopped listening is not poison: it runs on another instance', async (t) => {
  // The instance's exit races the dispatch: its port refuses the connection before the pool sees the exit. The
  // message never reached it, so it is retried elsewhere instead of dead-lettered as the crash's cause.
  const { pool } = makePool(t)
  const dir = mkdtempSync(join(tmpdir(), 'iotless-refused-'))
  t.teardown(() => { rmSync(dir, { recursive: true, force: true }) })
  const first = await pool.invoke(event({ id: 'warm', closeServer: dir }))
  await waitFor('the instance to stop listening', () => existsSync(join(dir, 'closed')))
  const next = await pool.invoke(event({ id: 'next' }))
  t.equal(parse(next).id, 'next', 'answered')
  t.not(parse(next).pid, parse(first).pid, 'by another instance')
  t.equal(pool.spawnCount, 2, 'one replacement')
})

t.test('a handler that throws is an error for that call only', async (t) => {
  const { pool, registry } = makePool(t)
  await t.rejects(pool.invoke(event({ throw: 'sensor on fire' })), { code: 'FUNCTION_HANDLER_ERROR', message: /sensor on fire/ })
  const ok = await pool.invoke(event({ id: 2 }))
  t.equal(parse(ok).id, 2)
  t.equal(pool.spawnCount, 1, 'the instance was not replaced: a thrown error is not a crash')
  t.match(await registry.metrics(), /iotless_invocations_total\{function="echo",outcome="error"\} 1/)
})

t.test('no reply and a bad reply', async (t) => {
  const { pool } = makePool(t)
  const r = await pool.invoke(event({ noReply: true }))
  t.equal(r.reply, undefined)
  await t.rejects(pool.invoke(event({ badReply: true })), { code: 'FUNCTION_BAD_REPLY' })
})

t.test('a slow handler past timeoutMs gets FUNCTION_TIMEOUT and its instance is stopped', async (t) => {
  const { pool } = makePool(t, { timeoutMs: 300 })
  await pool.invoke(event({}))
  const pid = pool.pids[0] as number
  await t.rejects(pool.invoke(event({ sleepMs: 5000 })), { code: 'FUNCTION_TIMEOUT' })
  await waitFor('the stuck instance to exit', () => processGone(pid))
  const ok = await pool.invoke(event({ id: 'after' }))
  t.equal(parse(ok).id, 'after')
})

t.test('init failure and a module without defineFunction fail the waiting calls clearly', async (t) => {
  const { pool: failing } = makePool(t, { config: { failInit: true } })
  await t.rejects(failing.invoke(event({})), { code: 'FUNCTION_INIT_FAILED', message: /init refused on purpose/ })
  const { pool: wrong } = makePool(t, { modulePath: fixtureFunction('notAFunction') })
  await t.rejects(wrong.invoke(event({})), { code: 'FUNCTION_NOT_FOUND', message: /defineFunction/ })
})

t.test('close stops every instance and refuses new work', async (t) => {
  const { pool } = makePool(t, { maxScale: 2 })
  await Promise.all([pool.invoke(event({ sleepMs: 100 })), pool.invoke(event({ sleepMs: 100 }))])
  const pids = pool.pids
  t.equal(pids.length, 2)
  await pool.close()
  t.ok(pids.every(processGone), 'no instance outlives the pool')
  await t.rejects(pool.invoke(event({})), { code: 'POOL_CLOSED' })
})

t.test('prewarm starts instances before traffic, up to maxScale', async (t) => {
  const { pool } = makePool(t, { maxScale: 2 })
  pool.prewarm(5)
  await waitFor('two pre-warmed instances', () => pool.warmInstances === 2)
  const r = await pool.invoke(event({}))
  t.equal(r.coldStart, false, 'the first call found a warm instance')
  t.equal(pool.spawnCount, 2)
})
