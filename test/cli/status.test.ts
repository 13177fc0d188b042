// iotless status against a running stack (embedded broker, local pool), and its errors.
import t from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { createServer } from 'node:http'
import { IotlessError } from '../../core/errors.js'
import { runStatus } from '../../cli/status.js'
import { stackConfig, startTestStack } from '../e2e/stackSuite.js'
import { collector, publisher } from '../helpers/mqttCollector.js'
import { freePort } from '../helpers/freePort.js'
import { cliPath } from '../helpers/paths.js'
import { waitFor } from '../helpers/waitFor.js'

async function statusText (argv: string[]): Promise<string> {
  let out = ''
  const code = await runStatus(argv, (s) => { out += s })
  if (code !== 0) throw new Error(`exit ${code}`)
  return out
}

t.test('shows routes, functions and the last messages of a running stack', async (t) => {
  const prefix = `status-${process.pid}-${Date.now().toString(36)}`
  const { stack } = await startTestStack(t, stackConfig(prefix, '', { metrics: { port: 0, dashboardIntervalMs: 100 } }))
  const url = `http://127.0.0.1:${stack.metricsPort ?? 0}`
  const sub = await collector(stack.brokerUrl, `${prefix}/echo-replies`)
  t.teardown(sub.close)
  const pub = await publisher(stack.brokerUrl)
  t.teardown(() => pub.endAsync(true))
  // A device may send terminal escapes: they must not reach the terminal raw.
  await pub.publishAsync(`${prefix}/echo/tty`, 'red \u001b[31mALERT\u001b[0m', { qos: 1 })
  await pub.publishAsync(`${prefix}/echo/two`, '{"n":2}', { qos: 1 })
  await waitFor('two replies', () => sub.received.length >= 2, 20_000)
  let text = ''
  await waitFor('status shows both messages', async () => {
    text = await statusText(['--url', url])
    return /routes\[1\]\s+local:echo\s+\S+\s+2\s+2\s/.test(text) && text.includes(`${prefix}/echo/two`)
  }, 20_000, 100)
  t.match(text, /routes\[0\]\s+local:temperature-alert\s+\S+\s+0\s/, 'the idle route, with its target')
  t.match(text, /^echo\s+\d+\s+\d+\s+\d+\s+\d+\s+\d+\s+ok 2\s/m, 'echo: instances, cold starts, two ok invocations')
  t.match(text, /dispatch \S+, reply publish/, 'the spans of a message')
  t.notOk(text.includes('\u001b'), 'no raw escape character reaches the terminal')
  t.ok(text.includes('red \\x1b[31mALERT'), 'the payload is shown with its escape spelled out')
  const json = JSON.parse(await statusText(['--url', url + '/', '--json'])) as { routes: unknown[] }
  t.equal(json.routes.length, 2, '--json prints the JSON')

  // The real CLI, through the lazy registry (asynchronously: this process serves the stack it reads).
  const r = await promisify(execFile)(process.execPath, [cliPath, 'status', '--url', url, '--traces', '1'], { encoding: 'utf8', timeout: 20_000 })
  t.match(r.stdout, /Last messages \(1\)/)
})

t.test('a URL where no stack listens, or something that is not a dashboard, is a clear error', async (t) => {
  const port = await freePort()
  await t.rejects(runStatus(['--url', `http://127.0.0.1:${port}`, '--timeout-ms', '3000'], () => {}), new IotlessError('STATUS_UNREACHABLE', `http://127.0.0.1:${port}/api/status: ECONNREFUSED (is iotless up running, with metrics.dashboard on? --url sets where)`))
  const server = createServer((req, res) => {
    if (req.url === '/api/status') res.writeHead(200, { 'content-type': 'application/json' }).end('{"hello":1}')
    else res.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const addr = server.address()
  const other = `http://127.0.0.1:${typeof addr === 'object' && addr !== null ? addr.port : 0}`
  await t.rejects(runStatus(['--url', other], () => {}), { code: 'STATUS_UNREACHABLE', message: /not an iotless status/ })
  await t.rejects(runStatus(['--url', `${other}/sub/`], () => {}), { code: 'STATUS_UNREACHABLE', message: /answered 404: not an iotless dashboard, or metrics.dashboard is off/ })
  // A real stack with the dashboard off answers /metrics but not /api/status.
  const prefix = `status-off-${process.pid}-${Date.now().toString(36)}`
  const { stack } = await startTestStack(t, stackConfig(prefix, '', { metrics: { port: 0, dashboard: false } }))
  const offUrl = `http://127.0.0.1:${stack.metricsPort ?? 0}`
  t.equal((await fetch(`${offUrl}/metrics`)).status, 200, '/metrics still served')
  t.equal((await fetch(`${offUrl}/`)).status, 404, 'no page with metrics.dashboard false')
  await t.rejects(runStatus(['--url', offUrl], () => {}), { code: 'STATUS_UNREACHABLE', message: /answered 404: not an iotless dashboard, or metrics.dashboard is off/ })
  await t.rejects(runStatus(['--url', 'not a url'], () => {}), { code: 'CLI_USAGE', message: /--url: not a URL/ })
  await t.rejects(runStatus(['--url', 'ftp://x/'], () => {}), { code: 'CLI_USAGE', message: /expected http:\/\/ or https:\/\// })
  await t.rejects(runStatus(['--traces', 'many'], () => {}), { code: 'CLI_USAGE', message: /--traces: expected/ })
})
