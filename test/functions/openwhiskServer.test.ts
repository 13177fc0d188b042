import t, { type Test } from 'tap'
import probe, { callCount } from '../fixtures/functions/probe.js'
import { startOpenWhiskServer, OW_ACTIVATION_MARKER, type OpenWhiskServerOptions } from '../../functions/sdk/openwhiskServer.js'
import { WARMUP_PARAM } from '../../functions/sdk/warmup.js'

// Codes and bodies are those of openwhisk-runtime-nodejs core/nodejsActionBase (src/service.js, app.js, runner.js).

async function start (t: Test, config: Record<string, unknown> = {}, over: Partial<OpenWhiskServerOptions> = {}) {
  const env: Record<string, string | undefined> = {}
  const logs: string[] = []
  const sink = { write: (s: string) => logs.push(s) }
  const ow = await startOpenWhiskServer(probe, { name: 'probe', config }, { port: 0, host: '127.0.0.1', env, out: sink, err: sink, ...over })
  t.teardown(() => ow.close())
  const base = `http://127.0.0.1:${ow.port}`
  const post = async (path: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
    const res = await fetch(base + path, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) })
    const text = await res.text()
    let json: unknown
    try { json = JSON.parse(text) } catch { json = undefined }
    return { status: res.status, json, text, headers: res.headers }
  }
  return { post, env, logs }
}

const runBody = (value: unknown, extra: Record<string, unknown> = {}) => ({
  value,
  namespace: 'guest',
  action_name: '/guest/probe',
  action_version: '0.0.1',
  activation_id: 'a1b2c3',
  transaction_id: 'tx1',
  api_key: 'secret',
  deadline: '1763900000000',
  ...extra
})

t.test('init once, run, second init, run before init', async (t) => {
  const { post, env, logs } = await start(t)
  t.same(await post('/run', runBody({ x: 1 })).then((r) => [r.status, r.json]), [403, { error: 'System not initialized.' }])
  t.same(await post('/init', { value: { name: 'probe', main: 'main', code: '', binary: false, env: { GREETING: 'hi', N: 3 } } }).then((r) => [r.status, r.json]), [200, { OK: true }])
  t.equal(env.GREETING, 'hi', 'init copies value.env into the environment')
  t.equal(env.N, '3')
  t.same(await post('/init', { value: {} }).then((r) => [r.status, r.json]), [403, { error: 'Cannot initialize the action more than once.' }])
  const run = await post('/run', runBody({ x: 1 }))
  t.equal(run.status, 200)
  const data = run.json as { json: unknown; type: string; id: string; activation: Record<string, unknown> }
  t.same(data.json, { x: 1 }, 'the handler gets value as the event data')
  t.equal(data.type, 'dev.iotless.openwhisk.activation')
  t.equal(data.id, 'a1b2c3')
  t.same(data.activation, { namespace: 'guest', actionName: '/guest/probe', activationId: 'a1b2c3', deadlineMs: 1763900000000 }, 'deadline arrives as a string of epoch ms and is parsed')
  t.equal(env.__OW_DEADLINE, '1763900000000')
  t.equal(env.__OW_ACTIVATION_ID, 'a1b2c3')
  t.equal(env.__OW_API_KEY, 'secret')
  t.equal(env.__OW_VALUE, undefined, 'value is not copied')
  t.ok(logs.filter((l) => l === OW_ACTIVATION_MARKER + '\n').length >= 2, 'the end-of-activation markers are written to stdout and stderr')
})

t.test('non-object result, rejected promise, bad params, warm-up, routes', async (t) => {
  const { post } = await start(t)
  await post('/init', { value: {} })
  t.same(await post('/run', runBody({ number: true })).then((r) => [r.status, r.json]), [502, { error: 'The action did not return a dictionary.' }])
  const rej = await post('/run', runBody({ reject: 'nope' }))
  t.equal(rej.status, 200, 'a rejected promise is an application error, resolved as { error } (runner.js)')
  t.match(rej.json, { error: { name: 'Error', message: 'nope' } })
  const bad = await post('/run', runBody({ badInput: 'not an image' }))
  t.equal(bad.status, 200)
  t.match(bad.json, { error: { code: 'FUNCTION_BAD_INPUT', message: 'not an image' } })
  t.same(await post('/run', runBody('a string')).then((r) => [r.status, r.json]),
    [403, { error: "Internal system error: the argument must be a dictionary but has type 'string'." }])
  // The runtime leaves its status at running after that refusal; start a fresh server for the rest.
  const s2 = await start(t)
  await s2.post('/init', { value: {} })
  const before = callCount()
  t.same(await s2.post('/run', runBody({ [WARMUP_PARAM]: true })).then((r) => [r.status, r.json]), [200, { warm: true }])
  t.equal(callCount(), before, 'the handler is not called for a warm-up')
  t.same(await s2.post('/nope', {}).then((r) => [r.status, r.json]), [500, { error: 'Bad request.' }])
  t.same(await s2.post('/run', '{"value": ', { 'content-type': 'application/json' }).then((r) => [r.status, r.json]), [500, { error: 'Bad request.' }])
  const ok = await s2.post('/run', runBody(null))
  t.equal(ok.status, 200, 'a null value is taken as {}')
})

t.test('overlapping runs are refused unless concurrency is allowed', async (t) => {
  const { post } = await start(t)
  await post('/init', { value: {} })
  const slow = post('/run', runBody({ sleepMs: 300 }))
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(await post('/run', runBody({})).then((r) => [r.status, r.json]), [403, { error: 'System not ready, status is running.' }])
  t.equal((await slow).status, 200)
  const c = await start(t, {}, { allowConcurrent: true })
  await c.post('/init', { value: {} })
  const slow2 = c.post('/run', runBody({ sleepMs: 200 }))
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal((await c.post('/run', runBody({}))).status, 200)
  t.equal((await slow2).status, 200)
})

t.test('a synchronous throw gives 502 and stops the container', async (t) => {
  const { post } = await start(t)
  await post('/init', { value: {} })
  t.same(await post('/run', runBody({ throwSync: 'boom' })).then((r) => [r.status, r.json]), [502, { error: 'An error has occurred: Error: boom' }])
  t.same(await post('/run', runBody({})).then((r) => [r.status, r.json]), [403, { error: 'System not ready, status is stopped.' }])
  t.same(await post('/init', { value: {} }).then((r) => [r.status, r.json]), [403, { error: 'Cannot initialize the action more than once.' }])
})

t.test('init failure, and a body over the limit', async (t) => {
  const { post } = await start(t, { failInit: true })
  const r = await post('/init', { value: {} })
  t.equal(r.status, 502)
  t.match((r.json as { error: string }).error, /^Initialization has failed due to: Error: init refused on purpose/)
  t.same(await post('/init', { value: {} }).then((x) => [x.status, x.json]), [403, { error: 'System not ready, status is stopped.' }])
  const small = await start(t, {}, { maxBodyBytes: 1024 })
  await small.post('/init', { value: {} })
  t.same(await small.post('/run', runBody({ big: 'x'.repeat(4096) })).then((x) => [x.status, x.json]), [500, { error: 'Bad request.' }])
  t.equal((await small.post('/run', runBody({}))).status, 200, 'and it keeps serving')
})

t.test('single-entrypoint mode (__OW_RUNTIME_PLATFORM=knative)', async (t) => {
  const { post, env } = await start(t, {}, { singleEntrypoint: true })
  env.__OW_NAMESPACE = 'guest'
  const r = await post('/', { activation: { namespace: 'guest', action_name: 'probe', activation_id: 'k1', deadline: '1763900000000' }, value: { y: 2 } })
  t.equal(r.status, 200, 'a pre-specialised runtime initialises on its first activation')
  t.equal(r.headers.get('access-control-allow-origin'), '*')
  t.equal(r.headers.get('content-type'), 'application/json')
  t.match(r.json, { json: { y: 2, __ow_method: 'POST', __ow_user: 'guest', __ow_path: '' }, activation: { activationId: 'k1', deadlineMs: 1763900000000 } })
  t.equal(env.__OW_ACTIVATION_ID, 'k1')
  t.same(await post('/', { init: { main: 'main', code: 'x' } }).then((x) => [x.status, x.json]), [500, { error: 'internal error during request processing.' }],
    'init data is refused by a runtime with a dedicated function')
  t.same(await post('/run', {}).then((x) => [x.status, x.json]), [500, { error: 'Bad request.' }], '/run is not a route in this mode')
})
