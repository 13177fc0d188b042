// Tracing off costs nothing to load: a stack started with tracing.enabled false imports no @opentelemetry
// module, nor does `iotless fn serve` with no tracing variables; with it on, they do (so the check can fail),
// except the compact engine (the default), whose adapter loads none.
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { cliPath, fixtureFunction } from '../helpers/paths.js'
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { repoRoot } from '../helpers/paths.js'
import { moduleLoadLog } from '../helpers/moduleLoadLog.js'

function modulesLoadedByStack (t: Test, tracing: Record<string, unknown>): string[] {
  const hook = moduleLoadLog(t, 'iotless-tracing-')
  const main = path.join(hook.dir, 'main.mjs')
  const dist = (p: string): string => JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', p)).href)
  fs.writeFileSync(main, `import { startStack } from ${dist('cli/stack.js')}
import { configSchema } from ${dist('core/config/schema.js')}
import { createLogger } from ${dist('core/log.js')}
const config = configSchema.parse({ broker: { port: 0 }, metrics: { port: 0 }, prefetch: { enabled: false }, log: { level: 'silent' }, tracing: ${JSON.stringify(tracing)} })
const stack = await startStack({ config, baseDir: ${JSON.stringify(repoRoot)}, log: createLogger({ level: 'silent' }), env: {} })
await stack.stop('done')
`)
  const r = spawnSync(process.execPath, ['--import', hook.register, main], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, r.stderr)
  return hook.loaded()
}

t.test('tracing off: no OpenTelemetry module is loaded', async (t) => {
  const loaded = modulesLoadedByStack(t, { enabled: false })
  t.ok(loaded.some((u) => u.includes('/dist/cli/stack.js')), 'the stack was loaded')
  t.same(loaded.filter((u) => u.includes('@opentelemetry') || u.includes('otelTracer')), [])
})

t.test('tracing on, engine sdk: the SDK is loaded', async (t) => {
  const loaded = modulesLoadedByStack(t, { enabled: true, endpoint: 'http://127.0.0.1:9/v1/traces', engine: 'sdk' })
  t.ok(loaded.some((u) => u.includes('@opentelemetry/sdk-trace-base')), 'sdk-trace-base')
})

t.test('tracing on, engine compact (the default): the compact tracer, and no OpenTelemetry module in the adapter\'s process', async (t) => {
  const loaded = modulesLoadedByStack(t, { enabled: true, endpoint: 'http://127.0.0.1:9/v1/traces' })
  t.ok(loaded.some((u) => u.includes('/dist/core/tracing/compactTracer.js')), 'compactTracer')
  t.same(loaded.filter((u) => u.includes('@opentelemetry')), [])
})

/** The modules `iotless fn serve` loads until it is ready, with `env` added to its environment. */
async function modulesLoadedByServe (t: Test, env: Record<string, string>): Promise<string[]> {
  const hook = moduleLoadLog(t, 'iotless-tracing-')
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('OTEL_') && !k.startsWith('IOTLESS_')))
  const child = spawn(process.execPath, ['--import', hook.register, cliPath, 'fn', 'serve', fixtureFunction('echo'), '--port', '0', '--host', '127.0.0.1'], { cwd: repoRoot, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = once(child, 'exit')
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: child.stdout }).on('line', (l) => { if (l.includes('"iotless fn ready"')) resolve() })
    child.once('exit', (code) => { reject(new Error(`fn serve exited ${code}`)) })
  })
  child.kill('SIGTERM')
  await exited
  return hook.loaded()
}

t.test('fn serve without tracing variables: no OpenTelemetry module, not even the settings', async (t) => {
  const loaded = await modulesLoadedByServe(t, {})
  t.ok(loaded.some((u) => u.includes('/dist/functions/sdk/knativeServer.js')), 'the server was loaded')
  t.same(loaded.filter((u) => u.includes('@opentelemetry') || u.includes('otelTracer') || u.includes('serveTracing')), [])
})

t.test('fn serve with IOTLESS_TRACING_ENABLED: the SDK is loaded', async (t) => {
  const loaded = await modulesLoadedByServe(t, { IOTLESS_TRACING_ENABLED: 'true', IOTLESS_TRACING_ENDPOINT: 'http://127.0.0.1:9/v1/traces' })
  t.ok(loaded.some((u) => u.includes('@opentelemetry/sdk-trace-base')), 'sdk-trace-base')
})
