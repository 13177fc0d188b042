import t from 'tap'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { resolveFunctionFolder } from '../../cli/resolveFunctionFolder.js'
import { isIotlessError } from '../../core/errors.js'
import { repoRoot } from '../helpers/paths.js'

function folder (t: { teardown: (fn: () => void) => void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-folder-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, '..'), { recursive: true })
    writeFileSync(join(dir, rel), text)
  }
  return dir
}

function failure (dir: string): string {
  try { resolveFunctionFolder(dir) } catch (err) { if (isIotlessError(err, 'FUNCTION_NOT_FOUND')) return err.message; throw err }
  throw new Error('expected FUNCTION_NOT_FOUND')
}

t.test('the source folder of a built-in serves the built-in', async (t) => {
  t.same(resolveFunctionFolder(join(repoRoot, 'functions/text-detect')), { modulePath: join(repoRoot, 'dist/functions/text-detect/index.js'), name: 'text-detect' })
  t.same(resolveFunctionFolder(join(repoRoot, 'dist/functions/temperature-alert')), { modulePath: join(repoRoot, 'dist/functions/temperature-alert/index.js'), name: 'temperature-alert' }, 'and its build, by its index.js')
})

t.test('package.json exports, then main; the name from package.json', async (t) => {
  const exp = folder(t, { 'package.json': JSON.stringify({ name: '@acme/alert', exports: { '.': { import: './dist/a.js' } }, main: 'dist/b.js' }), 'dist/a.js': '' })
  t.same(resolveFunctionFolder(exp), { modulePath: join(exp, 'dist/a.js'), name: 'alert' })
  const main = folder(t, { 'package.json': JSON.stringify({ name: 'alert', main: 'dist/src/index.js' }), 'dist/src/index.js': '' })
  t.same(resolveFunctionFolder(main), { modulePath: join(main, 'dist/src/index.js'), name: 'alert' })
  t.match(failure(folder(t, { 'package.json': JSON.stringify({ main: 'dist/src/index.js' }) })), /"main" is dist\/src\/index.js, which does not exist: build the function first/)
  t.match(failure(folder(t, { 'package.json': '{' })), /package.json is not JSON/)
})

t.test('without a package.json entry: index.js, then dist/index.js; TypeScript alone is explained', async (t) => {
  const idx = folder(t, { 'index.js': '', 'dist/index.js': '' })
  t.equal(resolveFunctionFolder(idx).modulePath, join(idx, 'index.js'))
  const dist = folder(t, { 'package.json': '{"name":"x"}', 'dist/index.js': '' })
  t.equal(resolveFunctionFolder(dist).modulePath, join(dist, 'dist/index.js'))
  t.match(failure(folder(t, { 'src/index.ts': '' })), /holds TypeScript \(src\/index.ts\) but no compiled module: build it/)
  t.match(failure(folder(t, { 'README.md': '' })), /a folder with no function module/)
})
