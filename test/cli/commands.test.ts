import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { commands } from '../../cli/commands.js'
import { cliPath, repoRoot } from '../helpers/paths.js'

t.test('every registry entry loads the command it names, with the same summary', async (t) => {
  const names = Object.keys(commands)
  t.ok(names.includes('proxy') && names.includes('up') && names.includes('sim'))
  for (const name of names) {
    const entry = commands[name]
    const cmd = await entry?.load()
    t.equal(cmd?.name, name, `${name}: load() gives the ${name} command`)
    t.equal(cmd?.summary, entry?.summary, `${name}: --help shows the command's own summary`)
  }
})

/** Runs the CLI with a module-resolution hook that lists every module it loads. */
function loadedBy (t: Test, args: string[]): { status: number | null; stdout: string; loaded: string[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-cli-'))
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
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(register).href, cliPath, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 })
  const loaded = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []
  return { status: r.status, stdout: r.stdout, loaded }
}

t.test('`iotless proxy` loads the proxy command and none of the others', async (t) => {
  const r = loadedBy(t, ['proxy', '--help'])
  t.equal(r.status, 0)
  t.match(r.stdout, /Usage: iotless proxy/)
  t.ok(r.loaded.some((u) => u.endsWith('/cli/proxy.js')), 'cli/proxy.js was loaded')
  t.ok(r.loaded.some((u) => u.endsWith('/proxy/startQueueProxy.js')), 'proxy/ was loaded')
  const foreign = r.loaded.filter((u) => /\/cli\/(up|sim|stack)\.js$|node_modules\/(aedes|mqtt|onnxruntime|sharp)/.test(u))
  t.same(foreign, [], 'no other command, broker or ML runtime')
})

t.test('`iotless --help` lists every command without loading any', async (t) => {
  const r = loadedBy(t, ['--help'])
  t.equal(r.status, 0)
  for (const [name, entry] of Object.entries(commands)) t.match(r.stdout, `  ${name}`, `lists ${name}: ${entry.summary}`)
  t.same(r.loaded.filter((u) => /\/cli\/(up|sim|proxy|stack)\.js$/.test(u)), [])
})
