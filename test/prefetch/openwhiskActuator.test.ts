import t, { type Test } from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import openwhisk from 'openwhisk'
import { ManualClock } from '../../core/clock.js'
import { isIotlessError } from '../../core/errors.js'
import { WARMUP_PARAM } from '../../functions/sdk/warmup.js'
import type { LiveDecision } from '../../prefetch/actuators/actuator.js'
import { OpenWhiskActuator } from '../../prefetch/actuators/openwhiskActuator.js'
import { memoryLog } from '../helpers/silentLog.js'

const GUEST = '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP'

interface Seen { method: string; path: string; query: string; auth: string | undefined; body: unknown }

/** The controller's invoke endpoint (contracts section 7): 202 { activationId } for blocking=false, 404 for an unknown action. */
async function fakeController (t: Test, actions: string[], opts: { throttle?: boolean } = {}) {
  const seen: Seen[] = []
  let n = 0
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x')
      const text = Buffer.concat(chunks).toString('utf8')
      seen.push({ method: req.method ?? '', path: u.pathname, query: u.search, auth: req.headers.authorization, body: text === '' ? undefined : JSON.parse(text) })
      const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers })
        res.end(JSON.stringify(body))
      }
      if (req.headers.authorization !== `Basic ${Buffer.from(GUEST).toString('base64')}`) {
        send(401, { error: 'The supplied authentication is invalid', code: 'tx1' }, { 'www-authenticate': 'Basic realm="OpenWhisk secure realm"' }); return
      }
      const m = /^\/api\/v1\/namespaces\/([^/]+)\/actions\/(.+)$/.exec(u.pathname)
      if (req.method !== 'POST' || m === null || !actions.includes(decodeURIComponent(m[2] ?? ''))) {
        send(404, { error: 'The requested resource does not exist.', code: 'tx2' }); return
      }
      if (opts.throttle === true) { send(429, { error: 'Too many requests in the last minute (count: 61, allowed: 60).', code: 'tx3' }); return }
      const id = `a1b2c3d4e5f60718293a4b5c6d7e8f9${n++}`
      send(202, { activationId: id }, { 'x-openwhisk-activation-id': id })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }))
  const client = openwhisk({ apihost: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, api_key: GUEST })
  return { seen, client }
}

function want (warm: number, early = false): LiveDecision {
  return { prewarmAt: 0, keepAliveUntil: 1, instances: Math.max(1, warm), nowMs: 0, warm, early }
}

t.test('a wanted instance gets a non-blocking warm-up invocation with the SDK\'s warm-up param; refreshed, not repeated', async (t) => {
  const { seen, client } = await fakeController(t, ['temperature-alert'])
  const clock = new ManualClock(0)
  const a = new OpenWhiskActuator({ client, clock, log: memoryLog().log, refreshMs: 300_000 })
  await a.apply('temperature-alert', want(0))
  t.equal(seen.length, 0, 'nothing wanted: nothing sent')
  await a.apply('temperature-alert', want(1))
  t.equal(seen.length, 1)
  t.equal(seen[0]?.method, 'POST')
  t.equal(seen[0]?.path, '/api/v1/namespaces/_/actions/temperature-alert')
  t.match(seen[0]?.query ?? '', /blocking=false/, 'non-blocking: the controller answers 202 at once')
  t.same(seen[0]?.body, { [WARMUP_PARAM]: true }, 'params: the warm-up flag only')
  t.equal(a.warmupsSent, 1)
  clock.advance(60_000)
  await a.apply('temperature-alert', want(1))
  t.equal(seen.length, 1, 'still warm a minute later: no second warm-up')
  await a.apply('temperature-alert', want(2))
  t.equal(seen.length, 3, 'two instances wanted: two warm-ups')
  clock.advance(300_000)
  await a.apply('temperature-alert', want(2))
  t.equal(seen.length, 5, 'refreshed after refreshMs, before the invoker\'s 10-minute idle timeout')
  await a.apply('temperature-alert', want(0))
  await a.apply('temperature-alert', want(1))
  t.equal(seen.length, 6, 'after a release, the next pre-warm sends again')
  await a.close()
})

t.test('errors from the controller are PREFETCH_ACTUATOR_FAILED and the warm-up is retried next time', async (t) => {
  const { seen, client } = await fakeController(t, ['pkg/busy'], { throttle: true })
  const a = new OpenWhiskActuator({ client, clock: new ManualClock(0), log: memoryLog().log, actionFor: (fn) => `pkg/${fn}` })
  let err: unknown
  try { await a.apply('missing', want(1)) } catch (e) { err = e }
  t.ok(isIotlessError(err) && err.code === 'PREFETCH_ACTUATOR_FAILED', 'a typed error')
  t.match((err as Error).message, /pkg\/missing failed \(HTTP 404\)/)
  t.equal(seen.at(-1)?.path, '/api/v1/namespaces/_/actions/pkg/missing', 'package/action path')
  const before = seen.length
  try { await a.apply('missing', want(1)) } catch { /* expected */ }
  t.ok(seen.length > before, 'not marked warm after a failure: tried again')
  let throttled: unknown
  try { await a.apply('busy', want(1)) } catch (e) { throttled = e }
  t.match((throttled as Error).message, /pkg\/busy failed \(HTTP 429\): .*Too many requests/, 'a 429 names the throttle')
})
