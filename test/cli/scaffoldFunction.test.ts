import t from 'tap'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { iotlessDependencySpec, scaffoldFunction } from '../../cli/scaffoldFunction.js'
import { isIotlessError } from '../../core/errors.js'

function tmp (t: { teardown: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-fn-new-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function code (fn: () => unknown): string | undefined {
  try { fn() } catch (err) { return isIotlessError(err) ? err.code : String(err) }
  return undefined
}

t.test('writes a strict TypeScript project that depends on iotless and tests with the SDK\'s helper', async (t) => {
  const cwd = tmp(t)
  const { dir, name, files } = scaffoldFunction('my-fn', cwd, '^0.1.0')
  t.equal(dir, join(cwd, 'my-fn'))
  t.equal(name, 'my-fn')
  t.same(files.sort(), ['.dockerignore', '.gitignore', 'Dockerfile', 'README.md', 'package.json', 'src/index.ts', 'test/index.test.ts', 'tsconfig.json'])
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, Record<string, string> | string>
  t.equal(pkg.name, 'my-fn')
  t.equal(pkg.type, 'module')
  t.same(pkg.dependencies, { iotless: '^0.1.0' })
  t.match(pkg.scripts, { test: /node --test/, start: /iotless fn serve \./ })
  const tsconfig = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> }
  t.equal(tsconfig.compilerOptions.strict, true)
  t.equal(tsconfig.compilerOptions.moduleResolution, 'NodeNext', 'the exports map needs node16/nodenext resolution')
  t.match(readFileSync(join(dir, 'src/index.ts'), 'utf8'), /from 'iotless\/sdk'/)
  t.match(readFileSync(join(dir, 'test/index.test.ts'), 'utf8'), /from 'iotless\/sdk\/testing'/)
  t.match(readFileSync(join(dir, 'Dockerfile'), 'utf8'), /ENTRYPOINT \["node", "node_modules\/iotless\/dist\/cli\/fn\.js", "serve", "\."\]/)
})

t.test('an empty folder is fine; a non-empty one, a file or a name npm refuses is an error and nothing is written', async (t) => {
  const cwd = tmp(t)
  mkdirSync(join(cwd, 'empty'))
  t.equal(scaffoldFunction('empty', cwd, '^0.1.0').files.length, 8)
  mkdirSync(join(cwd, 'used'))
  writeFileSync(join(cwd, 'used', 'notes.txt'), 'mine')
  t.equal(code(() => scaffoldFunction('used', cwd, '^0.1.0')), 'FN_NEW_DIR_NOT_EMPTY')
  t.equal(readFileSync(join(cwd, 'used', 'notes.txt'), 'utf8'), 'mine', 'the user\'s file is untouched')
  writeFileSync(join(cwd, 'afile'), '')
  t.equal(code(() => scaffoldFunction('afile', cwd, '^0.1.0')), 'FN_NEW_DIR_NOT_EMPTY')
  for (const bad of ['My-Fn', '-x', 'a b', '.hidden']) t.equal(code(() => scaffoldFunction(bad, cwd, '^0.1.0')), 'CLI_USAGE', bad)
})

t.test('the iotless dependency: ^version, a tarball or folder as file:<absolute>, anything else as given', async (t) => {
  const cwd = tmp(t)
  writeFileSync(join(cwd, 'iotless-0.1.0.tgz'), '')
  t.equal(iotlessDependencySpec(undefined, '0.1.0', cwd), '^0.1.0')
  t.equal(iotlessDependencySpec('./iotless-0.1.0.tgz', '0.1.0', cwd), `file:${join(cwd, 'iotless-0.1.0.tgz')}`)
  t.equal(iotlessDependencySpec('iotless-0.1.0.tgz', '0.1.0', cwd), `file:${join(cwd, 'iotless-0.1.0.tgz')}`)
  t.equal(iotlessDependencySpec('~0.1.2', '0.1.0', cwd), '~0.1.2')
  t.equal(iotlessDependencySpec('file:../x.tgz', '0.1.0', cwd), 'file:../x.tgz')
  t.equal(code(() => iotlessDependencySpec('./missing.tgz', '0.1.0', cwd)), 'CLI_USAGE')
})
