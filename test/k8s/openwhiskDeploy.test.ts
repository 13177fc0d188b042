import t, { type Test } from 'tap'
import { execFile } from 'node:child_process'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { cliPath } from '../helpers/paths.js'
import { buildActionBody } from '../../cli/openwhiskDeploy.js'

/** The dev guest key shape (uuid:key); the secret half must never appear in any output. */
const SECRET = 'xK9secretPartNeverPrinted0123456789abcdefABCDEF'
const KEY = `23bc46b1-71f6-4ed5-8c54-816aa4f8c502:${SECRET}`

interface Recorded { method: string; url: string; authorization: string | undefined; body: unknown }

/** A stand-in for the OpenWhisk controller: records each request and answers as Actions.scala does. */
async function startController (respond: (req: Recorded) => { status: number; body: unknown }): Promise<{ url: string; requests: Recorded[]; close: () => Promise<void> }> {
  const requests: Recorded[] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body: text === '' ? undefined : JSON.parse(text) as unknown }
      requests.push(rec)
      const { status, body } = respond(rec)
      res.writeHead(status, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { url: `http://127.0.0.1:${port}`, requests, close: async () => { await new Promise<void>((resolve) => server.close(() => resolve())) } }
}

interface Run { code: number; stdout: string; stderr: string }

function runCli (args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  const base: Record<string, string> = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('__OW_') && !k.startsWith('IOTLESS_')) base[k] = v
  }
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { cwd, env: { ...base, ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

function configDir (t: Test, yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-ow-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'iotless.yaml'), yaml)
  return dir
}

const CONFIG = `
functions:
  temperature-alert:
    module: temperature-alert
    concurrency: 1
    timeoutMs: 30000
    config:
      thresholdC: 21
  voice-activity:
    module: voice-activity
    timeoutMs: 900000
`

t.test('creates or updates each function as a blackbox action with one PUT ...?overwrite=true', async (t) => {
  const controller = await startController((req) => ({ status: 200, body: { namespace: 'guest', name: req.url.split('/').pop()?.split('?')[0], version: '0.0.1' } }))
  t.teardown(controller.close)
  const dir = configDir(t, CONFIG)
  const run = await runCli(['openwhisk', 'deploy', '--apihost', controller.url, '--image', 'registry.test/iotless-openwhisk@sha256:abc'], { __OW_API_KEY: KEY }, dir)
  t.equal(run.code, 0, run.stderr)
  t.same(controller.requests.map((r) => `${r.method} ${r.url}`), [
    'PUT /api/v1/namespaces/_/actions/temperature-alert?overwrite=true',
    'PUT /api/v1/namespaces/_/actions/voice-activity?overwrite=true'
  ])
  for (const r of controller.requests) t.equal(r.authorization, `Basic ${Buffer.from(KEY).toString('base64')}`, 'basic auth with the key')
  t.same(controller.requests[0]?.body, {
    annotations: [{ key: 'iotless-function', value: 'temperature-alert' }, { key: 'iotless-module', value: 'temperature-alert' }],
    exec: { kind: 'blackbox', image: 'registry.test/iotless-openwhisk@sha256:abc', main: 'temperature-alert' },
    parameters: [{ key: 'IOTLESS_FUNCTION_CONFIG', value: '{"thresholdC":21}', init: true }],
    limits: { timeout: 30000, memory: 256, concurrency: 1 }
  })
  t.match(controller.requests[1]?.body, { limits: { timeout: 300000 } }, 'timeout clamped to OpenWhisk\'s 5 minute maximum')
  t.match(run.stdout, /deployed _\/temperature-alert: image registry\.test/)
  t.notOk((run.stdout + run.stderr).includes(SECRET), 'the key is not printed')
})

t.test('key from --auth-file, a named namespace, one function only', async (t) => {
  const controller = await startController(() => ({ status: 200, body: {} }))
  t.teardown(controller.close)
  const dir = configDir(t, CONFIG)
  writeFileSync(join(dir, 'auth'), KEY + '\n')
  const run = await runCli(['openwhisk', 'deploy', '-n', 'iot', '--auth-file', join(dir, 'auth'), '--memory', '512', 'voice-activity'], { __OW_API_HOST: controller.url }, dir)
  t.equal(run.code, 0, run.stderr)
  t.same(controller.requests.map((r) => `${r.method} ${r.url}`), ['PUT /api/v1/namespaces/iot/actions/voice-activity?overwrite=true'])
  t.equal(controller.requests[0]?.authorization, `Basic ${Buffer.from(KEY).toString('base64')}`)
  t.match(controller.requests[0]?.body, { limits: { memory: 512 } })
})

t.test('a refusal stops the deploy with OPENWHISK_DEPLOY_FAILED, the status, and no key', async (t) => {
  const controller = await startController(() => ({ status: 401, body: { error: 'The supplied authentication is invalid', code: 'tx1' } }))
  t.teardown(controller.close)
  const dir = configDir(t, CONFIG)
  const run = await runCli(['openwhisk', 'deploy', '--apihost', controller.url], { __OW_API_KEY: KEY }, dir)
  t.equal(run.code, 1)
  t.match(run.stderr, /OPENWHISK_DEPLOY_FAILED: action _\/temperature-alert .*HTTP 401: The supplied authentication is invalid/)
  t.equal(controller.requests.length, 1, 'stops at the first failure')
  t.notOk((run.stdout + run.stderr).includes(SECRET))
})

t.test('no key, a malformed key, or no API host: usage error and no request', async (t) => {
  const controller = await startController(() => ({ status: 200, body: {} }))
  t.teardown(controller.close)
  const dir = configDir(t, CONFIG)
  const noKey = await runCli(['openwhisk', 'deploy', '--apihost', controller.url], {}, dir)
  t.equal(noKey.code, 2)
  t.match(noKey.stderr, /CLI_USAGE: no OpenWhisk key/)
  const badKey = await runCli(['openwhisk', 'deploy', '--apihost', controller.url], { __OW_API_KEY: 'just-a-secret-without-colon' }, dir)
  t.equal(badKey.code, 2)
  t.notOk(badKey.stderr.includes('just-a-secret-without-colon'), 'a malformed key is not echoed either')
  const noHost = await runCli(['openwhisk', 'deploy'], { __OW_API_KEY: KEY }, dir)
  t.equal(noHost.code, 2)
  t.match(noHost.stderr, /no OpenWhisk API host/)
  const unknown = await runCli(['openwhisk', 'deploy', '--apihost', controller.url, 'nope'], { __OW_API_KEY: KEY }, dir)
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /no function "nope"/)
  t.equal(controller.requests.length, 0)
})

t.test('--dry-run prints the bodies and sends nothing', async (t) => {
  const dir = configDir(t, CONFIG)
  const run = await runCli(['openwhisk', 'deploy', '--dry-run'], {}, dir)
  t.equal(run.code, 0, run.stderr)
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; action: { exec: { kind: string } } })
  t.same(lines.map((l) => [l.name, l.action.exec.kind]), [['temperature-alert', 'blackbox'], ['voice-activity', 'blackbox']])
})

t.test('a module given as a file path cannot be a docker action of the stock image', async (t) => {
  t.throws(() => buildActionBody('mine', { module: './mine.js', timeoutMs: 1000, concurrency: 1, config: {} }, { image: 'i', memoryMb: 256 }), { code: 'CONFIG_INVALID', message: /functions\.mine\.module/ })
  t.equal(buildActionBody('a', { module: 'a', timeoutMs: 1, concurrency: 2, config: {} }, { image: 'i', memoryMb: 128 }).limits.timeout, 100, 'below OpenWhisk\'s 100 ms minimum is raised to it')
})
