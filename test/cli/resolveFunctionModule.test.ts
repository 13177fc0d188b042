import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkFunctionModules, resolveFunctionModule } from '../../cli/resolveFunctionModule.js'
import { repoRoot } from '../helpers/paths.js'

function folder (t: { teardown: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-module-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true })
    writeFileSync(join(dir, rel), text)
  }
  return dir
}

t.test('a built-in name, a file and a folder', async (t) => {
  t.equal(resolveFunctionModule('temperature-alert', '/anywhere'), join(repoRoot, 'dist/functions/temperature-alert/index.js'))
  const base = folder(t, { 'fns/alert.js': '', 'pkg/package.json': JSON.stringify({ name: 'p', main: 'dist/src/index.js' }), 'pkg/dist/src/index.js': '' })
  t.equal(resolveFunctionModule('./fns/alert.js', base), join(base, 'fns/alert.js'))
  t.equal(resolveFunctionModule('./pkg', base), join(base, 'pkg/dist/src/index.js'), 'a folder: its package.json main')
  t.equal(resolveFunctionModule(join(base, 'pkg'), '/elsewhere'), join(base, 'pkg/dist/src/index.js'), 'an absolute folder')
})

t.test('a folder with no module is a problem naming the field, not a throw', async (t) => {
  const base = folder(t, { 'empty/README.md': '', 'ts/index.ts': '' })
  const problems = checkFunctionModules({ a: { module: './empty' }, b: { module: './ts' }, c: { module: './missing.js' } }, base)
  t.same(problems.map((p) => p.path), [['functions', 'a', 'module'], ['functions', 'b', 'module'], ['functions', 'c', 'module']])
  t.match(problems[0]?.message, /no function module: looked for package.json/)
  t.match(problems[1]?.message, /holds TypeScript \(index.ts\) but no compiled module/)
  t.match(problems[2]?.message, /module file .*missing.js does not exist/)
})
