import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { commands } from '../../cli/commands.js'
import { cliPath, repoRoot } from '../helpers/paths.js'
import { moduleLoadLog } from '../helpers/moduleLoadLog.js'

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
  const hook = moduleLoadLog(t, 'iotless-cli-')
  const r = spawnSync(process.execPath, ['--import', hook.register, cliPath, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 })
  return { status: r.status, stdout: r.stdout, loaded: hook.loaded() }
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
