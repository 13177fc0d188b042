// Tracing off costs nothing to load: a stack started with tracing.enabled false imports no @opentelemetry
// module; with it on, it does (so the check can fail).
import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { repoRoot } from '../helpers/paths.js'

function modulesLoadedByStack (t: Test, tracing: Record<string, unknown>): string[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-tracing-'))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const log = path.join(dir, 'loaded.txt')
  const hooks = path.join(dir, 'hooks.mjs')
  fs.writeFileSync(hooks, `import fs from 'node:fs'
export async function resolve (spec, ctx, next) {
  const r = await next(spec, ctx)
  fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n')
  return r
}
`)
  const register = path.join(dir, 'register.mjs')
  fs.writeFileSync(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`)
  const main = path.join(dir, 'main.mjs')
  const dist = (p: string): string => JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', p)).href)
  fs.writeFileSync(main, `import { startStack } from ${dist('cli/stack.js')}
import { configSchema } from ${dist('core/config/schema.js')}
import { createLogger } from ${dist('core/log.js')}
const config = configSchema.parse({ broker: { port: 0 }, metrics: { port: 0 }, prefetch: { enabled: false }, log: { level: 'silent' }, tracing: ${JSON.stringify(tracing)} })
const stack = await startStack({ config, baseDir: ${JSON.stringify(repoRoot)}, log: createLogger({ level: 'silent' }), env: {} })
await stack.stop('done')
`)
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, main], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 })
  t.equal(r.status, 0, r.stderr)
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []
}

t.test('tracing off: no OpenTelemetry module is loaded', async (t) => {
  const loaded = modulesLoadedByStack(t, { enabled: false })
  t.ok(loaded.some((u) => u.includes('/dist/cli/stack.js')), 'the stack was loaded')
  t.same(loaded.filter((u) => u.includes('@opentelemetry') || u.includes('otelTracer')), [])
})

t.test('tracing on: the SDK is loaded', async (t) => {
  const loaded = modulesLoadedByStack(t, { enabled: true, endpoint: 'http://127.0.0.1:9/v1/traces' })
  t.ok(loaded.some((u) => u.includes('@opentelemetry/sdk-trace-base')), 'sdk-trace-base')
})
