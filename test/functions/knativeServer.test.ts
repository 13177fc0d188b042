import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import probe, { callCount } from '../fixtures/functions/probe.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { startKnativeServer, ERROR_EVENT_TYPE, REPLY_EVENT_TYPE } from '../../functions/sdk/knativeServer.js'
import { startLocalServer } from '../../functions/sdk/localServer.js'
import { WARMUP_EVENT_TYPE, WARMUP_HEADER } from '../../functions/sdk/warmup.js'
import { cliPath, repoRoot } from '../helpers/paths.js'
import { fixtureFunction } from '../helpers/paths.js'
import { waitFor } from '../helpers/waitFor.js'

const ATTRS = { specversion: '1.0', id: 'e1', source: '/test', type: 'dev.test.reading', subject: 'meters/7' }

async function start (t: Test, config: Record<string, unknown> = {}, maxBodyBytes?: number) {
  const kn = await startKnativeServer(probe, { name: 'probe', config }, { port: 0, host: '127.0.0.1', ...(maxBodyBytes === undefined ? {} : { maxBodyBytes }) })
  t.teardown(async () => { await kn.shutdown(); kn.server.closeAllConnections() })
  return { kn, base: `http://127.0.0.1:${kn.port}` }
}

function binary (data: unknown, attrs: Record<string, string> = {}) {
  return { method: 'POST', headers: toBinaryHeaders({ ...ATTRS, datacontenttype: 'application/json', ...attrs }), body: JSON.stringify(data) }
}

t.test('readiness turns 200 only after init has run', async (t) => {
  const { kn, base } = await start(t, { initDelayMs: 300 })
  // Ordered by events, not by elapsed time (a loaded machine may take 300 ms for a fetch): the event is
  // sent first, the readiness check sent after it still finds init running.
  let readyAt = Infinity
  void kn.ready.then(() => { readyAt = performance.now() })
  const pending = fetch(base + '/', binary({ a: 1 })).then((r) => ({ r, at: performance.now() }))
  const early = await fetch(base + '/healthz')
  t.equal(early.status, 503, 'not ready while init runs')
  t.same(await early.json(), { ready: false })
  t.equal((await fetch(base + '/livez')).status, 200, 'alive meanwhile')
  const ev = await pending
  t.equal(ev.r.status, 200, 'an event that arrives during init waits for it')
  t.ok(ev.at >= readyAt, 'and is answered after init')
  await kn.ready
  const late = await fetch(base + '/healthz')
  t.equal(late.status, 200)
  t.same(await late.json(), { ready: true })
})

t.test('init failure: readiness stays 503 and events get 503', async (t) => {
  const { kn, base } = await start(t, { failInit: true, initDelayMs: 100 })
  const waiting = fetch(base + '/', binary({}))
  await t.rejects(kn.ready, /init refused on purpose/)
  const w = await waiting
  t.equal(w.status, 503, 'an event that waited for the failed init')
  t.match(await w.json(), { code: 'FUNCTION_INIT_FAILED' })
  const r = await fetch(base + '/healthz')
  t.equal(r.status, 503)
  t.match(await r.json(), { ready: false, code: 'FUNCTION_INIT_FAILED' })
  t.equal((await fetch(base + '/', binary({}))).status, 503)
})

t.test('binary, structured and batch CloudEvents; the reply is a CloudEvent', async (t) => {
  const { kn, base } = await start(t)
  await kn.ready
  const b = await fetch(base + '/', binary({ a: 1 }))
  t.equal(b.status, 200)
  t.match(b.headers.get('server-timing'), /^handler;dur=\d+\.\d{3}$/, 'the handler\'s own time, for telling it from transport')
  t.equal(b.headers.get('ce-type'), REPLY_EVENT_TYPE)
  t.equal(b.headers.get('ce-specversion'), '1.0')
  t.equal(b.headers.get('ce-source'), '/iotless/functions/probe')
  t.equal(b.headers.get('ce-subject'), 'meters/7')
  t.equal(b.headers.get('ce-inreplyto'), 'e1')
  t.equal(b.headers.get('ce-probe'), 'yes', 'reply extensions travel as ce- headers')
  t.ok(b.headers.get('ce-id'))
  t.match(await b.json(), { json: { a: 1 }, type: 'dev.test.reading', subject: 'meters/7' })

  const bytes = await fetch(base + '/', { method: 'POST', headers: toBinaryHeaders({ ...ATTRS, datacontenttype: 'application/octet-stream' }), body: Buffer.from([1, 2, 3]) })
  t.match(await bytes.json(), { bytes: Buffer.from([1, 2, 3]).toString('base64') }, 'non-JSON data reaches the handler as bytes')

  const s = await fetch(base + '/', {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: JSON.stringify({ ...ATTRS, id: 's1', datacontenttype: 'application/json', data: { b: 2 } })
  })
  t.equal(s.status, 200)
  t.equal(s.headers.get('ce-inreplyto'), 's1')
  t.match(await s.json(), { json: { b: 2 }, id: 's1' })

  const s64 = await fetch(base + '/', {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents+json' },
    body: JSON.stringify({ ...ATTRS, id: 's2', datacontenttype: 'image/png', data_base64: Buffer.from('png!').toString('base64') })
  })
  t.match(await s64.json(), { bytes: Buffer.from('png!').toString('base64') }, 'data_base64 becomes bytes')

  const batch = await fetch(base + '/', {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: JSON.stringify([
      { ...ATTRS, id: 'b1', data: { n: 1 } },
      { ...ATTRS, id: 'b2', data: { noReply: true } },
      { ...ATTRS, id: 'b3', data: { badInput: 'bad frame' } },
      { ...ATTRS, id: 'b4', type: WARMUP_EVENT_TYPE },
      { ...ATTRS, id: 'b5', data: { n: 5 } }
    ])
  })
  t.equal(batch.status, 200)
  t.equal(batch.headers.get('content-type'), 'application/cloudevents-batch+json')
  const replies = await batch.json() as Array<Record<string, unknown>>
  t.same(replies.map((r) => [r.inreplyto, r.type]), [['b1', REPLY_EVENT_TYPE], ['b3', ERROR_EVENT_TYPE], ['b5', REPLY_EVENT_TYPE]],
    'one reply per event that has one; errors as error events; no reply for no-reply and warm-up')
  t.match(replies[0], { specversion: '1.0', datacontenttype: 'application/json', data: { json: { n: 1 } }, probe: 'yes' })
  t.match(replies[1], { data: { code: 'FUNCTION_BAD_INPUT', error: 'bad frame' } })
})

t.test('warm-up: answered after init, the handler is not called', async (t) => {
  const { base } = await start(t, { initDelayMs: 100 })
  const before = callCount()
  const h = await fetch(base + '/', { method: 'POST', headers: { [WARMUP_HEADER]: '1' } })
  t.equal(h.status, 204)
  t.equal(h.headers.get(WARMUP_HEADER), 'done')
  t.equal((await fetch(base + '/healthz')).status, 200, 'the warm-up answer came once init had run')
  const e = await fetch(base + '/', binary({}, { type: WARMUP_EVENT_TYPE }))
  t.equal(e.status, 204)
  t.equal(callCount(), before)
  const local = await startLocalServer(probe, { name: 'probe', config: {} })
  t.teardown(() => { local.server.close(); local.server.closeAllConnections() })
  const lb = `http://127.0.0.1:${local.port}/`
  t.equal((await fetch(lb, { method: 'POST', headers: { [WARMUP_HEADER]: '1' } })).status, 204, 'the local pool instance answers the header')
  t.equal((await fetch(lb, binary({}, { type: WARMUP_EVENT_TYPE }))).status, 204, 'and the event type')
  t.equal(callCount(), before)
  const bad = await fetch(lb, binary({ badInput: 'odd bytes' }))
  t.equal(bad.status, 400)
  t.same(await bad.json(), { code: 'FUNCTION_BAD_INPUT', error: 'odd bytes' })
})

t.test('bad requests get clear errors and the server keeps serving', async (t) => {
  const { kn, base } = await start(t, {}, 4096)
  await kn.ready
  const cases: Array<[string, RequestInit, number, string]> = [
    ['empty structured body', { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: '' }, 400, 'BAD_EVENT'],
    ['empty binary request without ce- headers', { method: 'POST', body: '' }, 400, 'BAD_EVENT'],
    ['broken JSON', { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: '{"specversion":' }, 400, 'BAD_EVENT'],
    ['batch that is not an array', { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body: '{}' }, 400, 'BAD_EVENT'],
    ['event without a type', { method: 'POST', headers: { 'content-type': 'application/cloudevents+json' }, body: JSON.stringify({ specversion: '1.0', id: 'x', source: 's' }) }, 400, 'BAD_EVENT'],
    ['huge body', binary({ big: 'x'.repeat(10_000) }), 413, 'PAYLOAD_TOO_LARGE'],
    ['bad input', binary({ badInput: 'corrupt' }), 400, 'FUNCTION_BAD_INPUT'],
    ['handler rejects', binary({ reject: 'oops' }), 500, 'FUNCTION_HANDLER_ERROR'],
    ['handler throws', binary({ throwSync: 'oops' }), 500, 'FUNCTION_HANDLER_ERROR'],
    ['not a reply', binary({ number: true }), 200, '']
  ]
  for (const [what, init, status, code] of cases) {
    const r = await fetch(base + '/', init)
    t.equal(r.status, status, what)
    if (code !== '') t.match(await r.json(), { code }, what)
    else await r.arrayBuffer()
  }
  t.equal((await fetch(base + '/', binary({ ok: 1 }))).status, 200, 'still serving')
  t.equal((await fetch(base + '/nope')).status, 404)
})

t.test('iotless fn serve: graceful SIGTERM finishes in-flight work and exits 0', async (t) => {
  const child = spawn(process.execPath, [cliPath, 'fn', 'serve', fixtureFunction('probe'), '--port', '0', '--host', '127.0.0.1', '--config', '{"initDelayMs":100}'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch { /* not ours */ } })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  await waitFor('listening line', () => lines.some((l) => l.msg === 'iotless fn listening'))
  const port = lines.find((l) => l.msg === 'iotless fn listening')?.port as number
  const base = `http://127.0.0.1:${port}`
  await waitFor('ready line', () => lines.some((l) => l.msg === 'iotless fn ready'))
  t.equal((await fetch(base + '/healthz')).status, 200)
  const inFlight = fetch(base + '/', binary({ sleepMs: 400 }))
  await new Promise((resolve) => setTimeout(resolve, 100))
  child.kill('SIGTERM')
  const r = await inFlight
  t.equal(r.status, 200, 'the in-flight request finishes')
  t.same(await r.json(), { slept: 400 })
  t.equal(await exited, 0, 'exit status 0')
  await t.rejects(fetch(base + '/healthz'), 'no longer listening')
})

t.test('iotless fn serve: usage errors', async (t) => {
  const run = (args: string[]) => new Promise<{ code: number | null; err: string }>((resolve) => {
    const c = spawn(process.execPath, [cliPath, 'fn', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let err = ''
    c.stderr.on('data', (d: Buffer) => { err += d.toString() })
    c.once('exit', (code) => resolve({ code, err }))
  })
  const a = await run(['serve', fixtureFunction('probe'), '--mode', 'lambda'])
  t.equal(a.code, 2)
  t.match(a.err, /CLI_USAGE: --mode must be knative or openwhisk/)
  const b = await run(['serve', fixtureFunction('notAFunction')])
  t.equal(b.code, 2)
  t.match(b.err, /FUNCTION_MODULE_INVALID: .*must export default defineFunction/)
  const c = await run(['serve', fixtureFunction('probe'), '--port', '0', '--config', '{"failInit":true}'])
  t.equal(c.code, 1)
  t.match(c.err, /FUNCTION_INIT_FAILED: init of probe failed: init refused on purpose/)
})

t.test('the CLI command list loads neither onnxruntime nor sharp (fn serve imports them lazily)', async (t) => {
  const script = [
    "import { createRequire } from 'node:module'",
    'const M = createRequire(import.meta.url)(\'node:module\')',
    'const heavy = () => Object.keys(M._cache).filter((k) => /onnxruntime-node|[\\\\/]sharp[\\\\/]/.test(k)).length',
    "await import('./dist/cli/commands.js')",
    'const before = heavy()',
    "await import('./dist/functions/text-detect/index.js')",
    'console.log(JSON.stringify({ before, after: heavy() }))'
  ].join('\n')
  const out = await new Promise<string>((resolve) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] })
    let s = ''
    c.stdout.on('data', (d: Buffer) => { s += d.toString() })
    c.once('exit', () => resolve(s))
  })
  const { before, after } = JSON.parse(out) as { before: number; after: number }
  t.equal(before, 0, 'nothing heavy after loading the commands')
  t.ok(after > 0, 'the check sees them once a function module is loaded')
})
