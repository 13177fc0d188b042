import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { isIotlessError } from '../../core/errors.js'
import { memoryEffectStore } from '../../effects/memoryStores.js'
import { openRedis } from '../../effects/redisStores.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { once } from '../../functions/sdk/once.js'
import { cliPath, fixtureFunction, repoRoot } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { waitFor } from '../helpers/waitFor.js'

const REDIS = process.env.IOTLESS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const dir = mkdtempSync(join(tmpdir(), 'iotless-once-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function event (id: string, subject: string) {
  return { headers: toBinaryHeaders({ specversion: '1.0', id, source: 'test', type: 't', subject, datacontenttype: 'application/json' }), body: Buffer.from('{}') }
}

t.test('once(): replays on re-execution; without a store it is EFFECTS_NOT_CONFIGURED', async (t) => {
  const ctx = { effects: memoryEffectStore() }
  let sent = 0
  const send = () => once(ctx, { id: 'ev-7' }, 'email', () => { sent++; return 'queued' })
  t.equal(await send(), 'queued')
  t.equal(await send(), 'queued')
  t.equal(sent, 1)
  const err = await once({}, { id: 'x' }, 'k', () => 1).then(() => undefined, (e: unknown) => e)
  t.ok(isIotlessError(err, 'EFFECTS_NOT_CONFIGURED'), String(err))
})

t.test('local pool: instances share a SQLite effect store; a re-run event counts once', async (t) => {
  const { log } = memoryLog()
  const pool = new FunctionPool({
    name: 'counter',
    modulePath: fixtureFunction('counter'),
    config: {},
    effects: { where: { kind: 'sqlite', path: join(dir, 'pool', 'effects.db') }, field: 'functions.counter.effects.url' },
    env: process.env,
    concurrency: 1,
    maxScale: 3,
    keepAliveMs: 600_000,
    initTimeoutMs: 10_000,
    timeoutMs: 10_000,
    clock: new ManualClock(0),
    log
  })
  t.teardown(() => pool.close())
  const totals = async (ids: string[]) => Promise.all(ids.map(async (id) => {
    const r = await pool.invoke(event(id, 'node/1'))
    return (JSON.parse(r.reply?.data.toString() ?? '{}') as { total: number; pid: number })
  }))
  // Three warm instances first, so the six events are spread over several processes sharing the file.
  pool.prewarm(3)
  await waitFor('three ready instances', () => pool.warmInstances === 3, 60_000)
  const first = await totals(['a', 'b', 'c', 'd', 'e', 'f'])
  t.same(first.map((r) => r.total).sort(), [1, 2, 3, 4, 5, 6], 'six events, six counts, on up to three instances')
  t.ok(new Set(first.map((r) => r.pid)).size > 1, 'more than one instance ran them')
  const again = await totals(['a', 'c', 'f'])
  t.same(again.map((r) => r.total), [first[0]?.total, first[2]?.total, first[5]?.total], 'the re-runs replay the logged totals')
  const next = await totals(['g'])
  t.same(next.map((r) => r.total), [7], 'nothing was counted twice')
})

t.test('iotless fn serve: IOTLESS_EFFECTS_URL (Redis); the same CloudEvent twice counts once', async (t) => {
  const prefix = `iotless-test:${randomUUID()}:`
  const child = spawn(process.execPath, [cliPath, 'fn', 'serve', fixtureFunction('counter'), '--port', '0', '--host', '127.0.0.1'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, IOTLESS_EFFECTS_URL: `${REDIS}?prefix=${prefix}` } })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(async () => {
    if (child.exitCode === null) { child.kill('SIGKILL'); await exited }
    const r = await openRedis(REDIS, 'cleanup')
    const keys = await r.keys(`${prefix}*`)
    if (keys.length > 0) await r.del(...keys)
    r.disconnect()
  })
  const lines: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch { /* not ours */ } })
  await waitFor('ready line', () => lines.some((l) => l.msg === 'iotless fn ready'))
  const port = lines.find((l) => l.msg === 'iotless fn listening')?.port as number
  const post = async (id: string) => {
    const e = event(id, 'node/9')
    const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: e.headers, body: e.body })
    return (await r.json() as { total: number }).total
  }
  t.same([await post('r1'), await post('r1'), await post('r2'), await post('r1')], [1, 1, 2, 1])
  const redis = await openRedis(REDIS, 'check')
  t.teardown(() => redis.disconnect())
  t.match(await redis.hget(`${prefix}state:count/node/9`, 'json'), '2', 'the counter in Redis is 2')
})

t.test('a store that cannot be reached stops start-up, naming its setting', async (t) => {
  const run = (args: string[], env: NodeJS.ProcessEnv) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const c = spawn(process.execPath, [cliPath, ...args], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } })
    let stderr = ''
    c.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    c.once('exit', (code) => resolve({ code, stderr }))
  })
  const fn = await run(['fn', 'serve', fixtureFunction('counter'), '--port', '0'], { IOTLESS_EFFECTS_URL: 'redis://127.0.0.1:1' })
  t.equal(fn.code, 1)
  t.match(fn.stderr, /STORE_UNAVAILABLE: IOTLESS_EFFECTS_URL: cannot reach Redis/)
  const badAge = await run(['fn', 'serve', fixtureFunction('counter'), '--port', '0'], { IOTLESS_EFFECTS_URL: 'memory:', IOTLESS_EFFECTS_LOG_MAX_AGE_MS: '5000' })
  t.equal(badAge.code, 2, 'a bad log age is a config problem')
  t.match(badAge.stderr, /CONFIG_INVALID: IOTLESS_EFFECTS_LOG_MAX_AGE_MS: "5000" is not a whole number of milliseconds of at least 60000/)
  const config = join(dir, 'iotless.yaml')
  writeFileSync(config, [
    'broker: { port: 0 }', 'metrics: { port: 0 }', 'prefetch: { enabled: false }',
    'functions:', `  counter: { module: ${JSON.stringify(fixtureFunction('counter'))}, effects: { url: "redis://127.0.0.1:1" } }`,
    'routes:', '  - { topic: "c/+", function: counter }', ''].join('\n'))
  const up = await run(['up', '-c', config], {})
  t.equal(up.code, 1)
  t.match(up.stderr, /STORE_UNAVAILABLE: functions\.counter\.effects\.url: cannot reach Redis/)
})
