import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isIotlessError } from '../../core/errors.js'
import { parsePrefetchOptions } from '../../cli/prefetch.js'
import { MIN_SCALE_ANNOTATION } from '../../prefetch/actuators/knativeActuator.js'
import { cliPath } from '../helpers/paths.js'
import { waitFor } from '../helpers/waitFor.js'
import { fixture, startFakeKubeApi } from '../prefetch/fakeKubeApi.js'

function usageError (argv: string[], env: NodeJS.ProcessEnv = {}): string {
  try {
    parsePrefetchOptions(argv, env)
  } catch (err) {
    if (isIotlessError(err) && err.code === 'CLI_USAGE') return err.message.split('\n')[0] ?? ''
    throw err
  }
  return '(accepted)'
}

t.test('options are checked and a bad one is named', async (t) => {
  const base = ['--metrics-url', 'http://127.0.0.1:9464/metrics']
  t.match(usageError(['--actuator', 'knative']), /^--metrics-url: required/)
  t.match(usageError(['--metrics-url', 'nope', '--actuator', 'knative']), /^--metrics-url: not a URL/)
  t.match(usageError([...base, '--actuator', 'lambda']), /^--actuator: expected knative or openwhisk, got "lambda"/)
  t.match(usageError([...base, '--actuator', 'knative', '--minute-ms', '1.5']), /^--minute-ms: expected a whole number >= 1, got "1.5"/)
  t.match(usageError([...base, '--actuator', 'knative', '--policy', 'lru']), /^--policy: expected one of/)
  t.match(usageError([...base, '--actuator', 'knative', '--knative-version', 'latest']), /^--knative-version: expected a version like 1.21/)
  t.match(usageError([...base, '--actuator', 'openwhisk', '--apihost', 'http://ow']), /^--auth: required for --actuator openwhisk/)
  t.equal(usageError([...base, '--actuator', 'openwhisk'], { __OW_API_HOST: 'http://ow', __OW_API_KEY: 'u:k' }), '(accepted)', 'OpenWhisk settings from __OW_* variables')
  const o = parsePrefetchOptions([...base, '--actuator', 'knative', '--minute-ms', '1000', '--lead-ms', '5000'], { KUBECONFIG: '/a/config:/b/config' })
  t.equal(o.leadMs, 1000, 'lead is at most one minute')
  t.equal(o.knative.kubeconfig, '/a/config', 'first file of $KUBECONFIG')
})

t.test('iotless prefetch as a process: /metrics arrivals -> min-scale patch; SIGTERM restores it', async (t) => {
  const REV = '/apis/serving.knative.dev/v1/namespaces/iot/revisions/temperature-alert-00002'
  const api = await startFakeKubeApi({
    '/api/v1/namespaces/knative-serving': fixture('namespace-knative-serving-v1.21.json'),
    '/apis/serving.knative.dev/v1/namespaces/iot/services/temperature-alert': fixture('service-temperature-alert.json'),
    [REV]: fixture('revision-temperature-alert-00002.json')
  })
  t.teardown(() => api.close())
  let count = 0
  let scrapes = 0
  const metrics = createServer((_req, res) => {
    scrapes++
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
    res.end(`# TYPE iotless_invocations_total counter\niotless_invocations_total{function="temperature-alert",outcome="ok"} ${count}\n`)
  })
  await new Promise<void>((r) => metrics.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => metrics.close(() => r())))
  const dir = mkdtempSync(join(tmpdir(), 'iotless-prefetch-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const kubeconfig = join(dir, 'config')
  writeFileSync(kubeconfig, [
    'apiVersion: v1', 'kind: Config', 'current-context: fake',
    'clusters:', '- name: fake', '  cluster:', `    server: ${api.url}`,
    'users:', '- name: prefetcher', '  user:', '    token: test-token',
    'contexts:', '- name: fake', '  context:', '    cluster: fake', '    user: prefetcher', '    namespace: iot', ''
  ].join('\n'))
  const child = spawn(process.execPath, [cliPath, 'prefetch',
    '--metrics-url', `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`,
    '--actuator', 'knative', '--kubeconfig', kubeconfig, '--kube-client', 'rest',
    '--policy', 'fixed', '--param', 'keepAliveMin=30', '--minute-ms', '300', '--lead-ms', '0',
    '--min-patch-interval-ms', '1', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })

  await waitFor('the baseline scrape', () => scrapes >= 1, 10_000)
  count = 4 // four invocations since the baseline
  const annotation = (): unknown => (api.objects[REV] as { metadata: { annotations: Record<string, string> } }).metadata.annotations[MIN_SCALE_ANNOTATION]
  await waitFor(`min-scale set on the Revision (output: ${output})`, () => annotation() === '1', 10_000)
  t.equal(api.requests.find((r) => r.method === 'PATCH')?.contentType, 'application/merge-patch+json')
  t.equal(api.requests[0]?.path, '/api/v1/namespaces/knative-serving', 'version detected first')
  child.kill('SIGTERM')
  t.equal(await exited, 0, `exits 0 after SIGTERM (${output})`)
  t.equal(annotation(), undefined, 'min-scale removed again: the Revision had none')
  t.same(api.requests.at(-1)?.body, { metadata: { annotations: { [MIN_SCALE_ANNOTATION]: null } } })
})

t.test('iotless prefetch with the OpenWhisk actuator: a warm-up invocation after arrivals; SIGTERM exits 0', async (t) => {
  let count = 0
  let scrapes = 0
  const metrics = createServer((_req, res) => {
    scrapes++
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
    res.end(`iotless_invocations_total{function="hello",outcome="ok"} ${count}\n`)
  })
  const invokes: Array<{ path: string; query: string; body: string }> = []
  const controller = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      const u = new URL(req.url ?? '/', 'http://x')
      invokes.push({ path: u.pathname, query: u.search, body })
      res.writeHead(202, { 'content-type': 'application/json', 'x-openwhisk-activation-id': 'f00d' })
      res.end('{"activationId":"f00d"}')
    })
  })
  await new Promise<void>((r) => metrics.listen(0, '127.0.0.1', r))
  await new Promise<void>((r) => controller.listen(0, '127.0.0.1', r))
  t.teardown(() => new Promise<void>((r) => metrics.close(() => r())))
  t.teardown(() => new Promise<void>((r) => { controller.closeAllConnections(); controller.close(() => r()) }))
  const child = spawn(process.execPath, [cliPath, 'prefetch',
    '--metrics-url', `http://127.0.0.1:${(metrics.address() as AddressInfo).port}/metrics`,
    '--actuator', 'openwhisk', '--apihost', `http://127.0.0.1:${(controller.address() as AddressInfo).port}`, '--auth', 'user:secret',
    '--policy', 'fixed', '--minute-ms', '300', '--lead-ms', '0', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', (c: Buffer) => { output += c.toString() })
  child.stderr.on('data', (c: Buffer) => { output += c.toString() })
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  await waitFor('the baseline scrape', () => scrapes >= 1, 10_000)
  count = 2
  await waitFor(`a warm-up invocation (output: ${output})`, () => invokes.length >= 1, 10_000)
  t.equal(invokes[0]?.path, '/api/v1/namespaces/_/actions/hello')
  t.match(invokes[0]?.query ?? '', /blocking=false/)
  t.same(JSON.parse(invokes[0]?.body ?? '{}'), { __iotless_warmup: true })
  child.kill('SIGTERM')
  t.equal(await exited, 0, output)
})
