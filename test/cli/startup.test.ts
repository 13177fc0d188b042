// Start-up that tells the truth: bad modules fail `iotless up` with a code and the module's path, config
// problems come in one report, no command prints a raw stack, SIGHUP stops gracefully, no password is logged.
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import { cliPath, fixtureFunction, repoRoot, sharedDir } from '../helpers/paths.js'
import { baseEnv } from '../proxy/helpers.js'

/** A config for `iotless up` on free ports, with the given functions and routes (JSON is YAML). */
function stackConfig (dir: string, extra: Record<string, unknown>): string {
  const file = join(dir, 'iotless.json')
  writeFileSync(file, JSON.stringify({ broker: { port: 0 }, metrics: { port: 0 }, prefetch: { enabled: false }, ...extra }, null, 2))
  return file
}

function run (args: string[], env: NodeJS.ProcessEnv = {}, cwd = repoRoot): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [cliPath, ...args], { cwd, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH, ...env } })
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** No line of a V8 stack (`    at fn (file:1:2)`) and no bare `Error:` dump reaches the user. */
function noStack (t: Test, what: string, stderr: string): void {
  const stackLines = stderr.split('\n').filter((l) => /^\s+at\s/.test(l) || /^\w*Error: /.test(l) || /^node:internal/.test(l))
  t.same(stackLines, [], `${what}: no raw stack on stderr`)
  t.match(stderr, /^iotless: [A-Z][A-Z0-9_]+: /m, `${what}: one coded line`)
}

t.test('a module with a syntax error, or without a defineFunction export, fails `iotless up` before it is up', async (t) => {
  const dir = t.testdir({
    'syntax.mjs': 'export default {\n  handle () { return 1 },\n  oops oops\n}\n',
    'plain.mjs': 'export default { handle: () => undefined }\n',
    'none.mjs': 'export const handle = () => undefined\n',
    'throws.mjs': 'throw new Error("no model file here")\n'
  })
  const file = stackConfig(dir, {
    routes: [{ topic: 'a/+', function: 'good' }, { topic: 'b/+', function: 'syntax' }],
    functions: {
      good: { module: fixtureFunction('echo') },
      syntax: { module: './syntax.mjs' },
      plain: { module: './plain.mjs' },
      none: { module: './none.mjs' },
      throws: { module: './throws.mjs' }
    }
  })
  const r = run(['up', '-c', file])
  t.equal(r.status, 2, 'exit status 2: fix your input')
  t.notMatch(r.stdout + r.stderr, /is up/, 'never claims to be up')
  t.match(r.stderr, /^iotless: FUNCTION_MODULE_INVALID: .*4 function modules do not load/m)
  t.match(r.stderr, `functions.syntax.module: ${join(dir, 'syntax.mjs')} does not load: SyntaxError: Unexpected identifier 'oops' (${join(dir, 'syntax.mjs')}:3)`)
  t.match(r.stderr, `functions.plain.module: ${join(dir, 'plain.mjs')} its default export was not made by defineFunction`)
  t.match(r.stderr, `functions.none.module: ${join(dir, 'none.mjs')} has no default export`)
  t.match(r.stderr, `functions.throws.module: ${join(dir, 'throws.mjs')} does not load: no model file here`)
  t.notMatch(r.stderr, 'functions.good.module', 'the good module passes')
  noStack(t, 'up', r.stderr)
})

t.test('every config problem of `iotless up` comes in one report, each at its path, with its code', async (t) => {
  const dir = t.testdir({})
  const file = stackConfig(dir, {
    broker: { port: 0, keepaliveSeconds: -5 },
    prefetch: { enabled: true, policy: 'fixed', params: { foo: 1, keepAliveMinutes: -3 } },
    targets: { cloud: { kind: 'knative', url: 'ftp://example.com/{function}' }, ow: { kind: 'openwhisk', apiHost: 'gopher://x' } },
    routes: [{ topic: 'a/+', function: 'echo', target: 'cloud' }, { topic: 'b/#x', function: 'echo' }, { topic: 'c/+', function: 'missing' }],
    functions: { echo: { module: fixtureFunction('echo'), maxScale: 0 } }
  })
  const r = run(['up', '-c', file])
  t.equal(r.status, 2)
  const lines = r.stderr.split('\n').map((l) => l.trim())
  const expect = [
    /^broker\.keepaliveSeconds: /,
    /^functions\.echo\.maxScale: /,
    /^targets\.cloud\.url: .*must be http:\/\/ or https:\/\/.* \[TARGET_URL_INVALID\]$/,
    /^targets\.ow\.apiHost: .* \[TARGET_URL_INVALID\]$/,
    /^prefetch\.params\.foo: policy fixed has no parameter "foo".* \[SIM_INVALID_PARAM\]$/,
    /^prefetch\.params\.keepAliveMinutes: .* \[SIM_INVALID_PARAM\]$/,
    /^routes\[1\]\.topic: /,
    /^routes\[2\]\.function: no function named "missing"/
  ]
  for (const re of expect) t.ok(lines.some((l) => re.test(l)), `reported: ${String(re)}`)
  t.equal(lines.filter((l) => l.startsWith('iotless: ')).length, 1, 'in one report')
  noStack(t, 'up', r.stderr)
})

t.test('no command prints a raw stack for a bad input', async (t) => {
  const dir = t.testdir({ 'empty.yaml': 'routes: []\n', 'bad.yaml': 'broker: [\n' })
  const cases: Array<{ what: string; args: string[]; env?: NodeJS.ProcessEnv; code: RegExp }> = [
    { what: 'unknown command', args: ['frobnicate'], code: /CLI_USAGE/ },
    { what: 'up, no config file', args: ['up', '-c', join(dir, 'nope.yaml')], code: /CONFIG_NOT_FOUND/ },
    { what: 'up, bad YAML', args: ['up', '-c', join(dir, 'bad.yaml')], code: /CONFIG_PARSE/ },
    { what: 'up, IOTLESS_BROKER_PORT=0x10', args: ['up', '-c', join(dir, 'empty.yaml')], env: { IOTLESS_BROKER_PORT: '0x10' }, code: /CONFIG_ENV_INVALID: IOTLESS_BROKER_PORT="0x10"/ },
    { what: 'adapter, no broker.url', args: ['adapter', '-c', join(dir, 'empty.yaml')], code: /CONFIG_INVALID/ },
    { what: 'proxy, no Knative env', args: ['proxy'], code: /PROXY_ENV_MISSING/ },
    { what: 'fn serve, missing module', args: ['fn', 'serve', join(dir, 'nope.js')], code: /FUNCTION_NOT_FOUND/ },
    { what: 'sim, unknown policy', args: ['sim', '--trace', join(sharedDir, 'traces/azure2019-500fn-8h'), '--policy', 'nope'], code: /SIM_UNKNOWN_POLICY/ },
    { what: 'sim, missing trace', args: ['sim', '--trace', join(dir, 'none')], code: /TRACE_NOT_FOUND/ },
    { what: 'prefetch, bad flag', args: ['prefetch', '--frobnicate'], code: /CLI_USAGE/ },
    { what: 'replay --write-config into a missing folder', args: ['replay', '--write-config', join(dir, 'no/such/dir/x.json'), '--functions', '2'], code: /OUTPUT_WRITE_FAILED: --write-config .*its folder does not exist \(ENOENT\)/ },
    {
      what: 'replay against a broker that is not there',
      args: ['replay', '--trace', 'azure2019', '--dir', join(sharedDir, 'traces/azure2019-500fn-8h'), '--url', 'mqtt://user:hunter2@127.0.0.1:1', '--minutes', '2', '--functions', '2', '--svg', join(dir, 'x.svg')],
      code: /BROKER_CONNECT_FAILED: cannot reach the broker at mqtt:\/\/user:\[REDACTED\]@127\.0\.0\.1:1 .*ECONNREFUSED/
    },
    { what: 'openwhisk deploy, no key', args: ['openwhisk', 'deploy', '-c', join(dir, 'empty.yaml'), '--apihost', 'http://127.0.0.1:1'], code: /SECRET_MISSING|CLI_USAGE|CONFIG_INVALID/ }
  ]
  for (const c of cases) {
    const r = run(c.args, c.env, dir)
    t.not(r.status, 0, `${c.what}: fails`)
    t.match(r.stderr, c.code, `${c.what}: ${r.stderr.split('\n')[0] ?? ''}`)
    noStack(t, c.what, r.stderr)
    t.notMatch(r.stderr, 'hunter2', `${c.what}: no password`)
  }
})

t.test('SIGHUP stops `iotless up` gracefully (exit 0, "stopped"), and the password in broker.url is never logged', async (t) => {
  // An external broker that takes any credentials, so the URL can carry a password (plain aedes: iotless's
  // embedded broker checks users and client ids).
  const aedes = await Aedes.createBroker({ authenticate: (_c, _u, _p, done) => { done(null, true) } })
  const server = createServer(aedes.handle)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const broker = { port: (server.address() as AddressInfo).port }
  t.teardown(async () => { server.close(); await new Promise<void>((resolve) => aedes.close(() => resolve())) })
  const dir = t.testdir({})
  const file = stackConfig(dir, {
    broker: { url: `mqtt://iot:s3cr3t-pw@127.0.0.1:${broker.port}`, clientId: `startup-test-${process.pid}` },
    routes: [{ topic: 'startup/+', function: 'echo' }],
    functions: { echo: { module: fixtureFunction('echo') } }
  })
  const child = spawn(process.execPath, [cliPath, 'up', '-c', file], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH } })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { out += c })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const deadline = Date.now() + 30_000
  while (!out.includes('iotless is up') && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(out, 'iotless is up')
  const upLine = out.split('\n').find((l) => l.includes('iotless is up')) ?? ''
  t.match(upLine, `mqtt://iot:[REDACTED]@127.0.0.1:${broker.port}`, 'the up line names the broker, user kept, password redacted')
  child.kill('SIGHUP')
  const { code, signal } = await exited
  t.same({ code, signal }, { code: 0, signal: null }, 'SIGHUP: a graceful stop, exit 0')
  t.match(out, /"reason":"SIGHUP".*"msg":"shutting down"/)
  t.match(out, /"msg":"stopped"/)
  t.notMatch(out, 's3cr3t-pw', 'the password appears in no line')
})

/** Starts a long-running command, waits for `ready` on its output, sends SIGHUP, and returns how it ended. */
async function hangUp (t: Test, args: string[], env: NodeJS.ProcessEnv, ready: RegExp): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, ...env } })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { out += c })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const deadline = Date.now() + 30_000
  while (!ready.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(out, ready, `${args.slice(1).join(' ')}: started`)
  child.kill('SIGHUP')
  return { ...await exited, out }
}

t.test('SIGHUP is a graceful stop for `fn serve` and `proxy` too', async (t) => {
  const fn = await hangUp(t, [cliPath, 'fn', 'serve', fixtureFunction('echo'), '--port', '0', '--host', '127.0.0.1'], {}, /"msg":"iotless fn ready"/)
  t.same({ code: fn.code, signal: fn.signal }, { code: 0, signal: null }, 'fn serve: exit 0 after SIGHUP')
  const proxyEnv = baseEnv(1, { IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS: '100' })
  const px = await hangUp(t, [cliPath, 'proxy'], proxyEnv, /"msg":"iotless proxy listening"/)
  t.same({ code: px.code, signal: px.signal }, { code: 0, signal: null }, `proxy: exit 0 after SIGHUP (${px.out.split('\n').slice(-3).join(' | ')})`)
})
