import t from 'tap'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { readSecret } from '../../core/readSecret.js'
import { isIotlessError } from '../../core/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'iotless-secret-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const SECRET = 'uuid-1:s3cr3t-value'

function fails (fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (err) {
    if (isIotlessError(err)) return { code: err.code, message: err.message }
    throw err
  }
  throw new Error('did not throw')
}

t.test('from an environment variable or a file, trimmed', async (t) => {
  const file = join(dir, 'key')
  writeFileSync(file, `  ${SECRET}\n`)
  t.equal(readSecret({ env: 'OW_KEY' }, { OW_KEY: ` ${SECRET}\n` }), SECRET)
  t.equal(readSecret({ file }, {}), SECRET)
  t.equal(readSecret({ env: 'OW_KEY', file }, { OW_KEY: 'from-env' }), 'from-env', 'the variable wins when set')
  t.equal(readSecret({ env: 'OW_KEY', file }, {}), SECRET, 'the file when the variable is unset')
})

t.test('errors have stable codes and name the variable or path, never the value', async (t) => {
  const empty = join(dir, 'empty')
  writeFileSync(empty, ' \n\n')
  const table: Array<[() => unknown, string, RegExp]> = [
    [() => readSecret({ env: 'OW_KEY', label: 'OpenWhisk API key' }, {}), 'SECRET_MISSING', /^OpenWhisk API key: environment variable OW_KEY is not set$/],
    [() => readSecret({}, {}), 'SECRET_MISSING', /give an environment variable or a file/],
    [() => readSecret({ env: 'OW_KEY' }, { OW_KEY: '  ' }), 'SECRET_EMPTY', /environment variable OW_KEY is empty/],
    [() => readSecret({ file: join(dir, 'nope') }, {}), 'SECRET_UNREADABLE', /cannot read .*nope \(ENOENT\)/],
    [() => readSecret({ file: dir }, {}), 'SECRET_UNREADABLE', /\(EISDIR\)/],
    [() => readSecret({ file: empty }, {}), 'SECRET_EMPTY', /file .*empty is empty/]
  ]
  for (const [fn, code, message] of table) {
    const f = fails(fn)
    t.equal(f.code, code)
    t.match(f.message, message)
  }
  t.notMatch(fails(() => readSecret({ env: 'X' }, { X: '' })).message, SECRET)
})

t.test('an unreadable file (permissions) is SECRET_UNREADABLE', { skip: process.getuid?.() === 0 ? 'root reads any file' : false }, async (t) => {
  const locked = join(dir, 'locked')
  writeFileSync(locked, SECRET)
  chmodSync(locked, 0o000)
  const f = fails(() => readSecret({ file: locked }, {}))
  t.equal(f.code, 'SECRET_UNREADABLE')
  t.match(f.message, /EACCES/)
  t.notMatch(f.message, SECRET)
})
