import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isIotlessError } from '../../core/errors.js'
import { SqliteDedupStore, openSqlite, sqliteEffectStore } from '../../effects/sqliteStores.js'
import { dedupSuite, effectSuite } from './storeSuite.js'

const dir = mkdtempSync(join(tmpdir(), 'iotless-sqlite-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

let dedupPath = ''
dedupSuite(t, 'sqlite', {
  open: async (limits) => { dedupPath = join(dir, `dedup-${n++}`, 'iotless.db'); return new SqliteDedupStore(openSqlite(dedupPath, 'effects.path'), limits) },
  reopen: async (limits) => new SqliteDedupStore(openSqlite(dedupPath, 'effects.path'), limits)
})

let effectPath = ''
effectSuite(t, 'sqlite', {
  open: async () => { effectPath = join(dir, `fx-${n++}.db`); return sqliteEffectStore(openSqlite(effectPath, 'effects.path')) },
  second: async () => sqliteEffectStore(openSqlite(effectPath, 'effects.path'))
})

t.test('sqlite: a committed record survives kill -9 of the process that wrote it', async (t) => {
  const path = join(dir, 'killed.db')
  const script = `
    import { SqliteDedupStore, openSqlite } from ${JSON.stringify(new URL('../../effects/sqliteStores.js', import.meta.url).href)}
    const s = new SqliteDedupStore(openSqlite(${JSON.stringify(path)}, 'x'), { maxAgeMs: 1e9, maxEntries: 1e6 })
    await s.record(['before-kill'], 1)
    process.kill(process.pid, 'SIGKILL')`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  t.equal(r.signal, 'SIGKILL', r.stderr)
  const s = new SqliteDedupStore(openSqlite(path, 'x'), { maxAgeMs: 1e9, maxEntries: 1e6 })
  t.teardown(() => s.close())
  t.same([...await s.seen(['before-kill'], 2)], ['before-kill'])
})

t.test('sqlite: a path that cannot be created is STORE_UNAVAILABLE naming the field', async (t) => {
  const file = join(dir, 'a-file')
  writeFileSync(file, 'x')
  chmodSync(file, 0o444)
  try {
    openSqlite(join(file, 'sub', 'iotless.db'), 'adapter.dedup.path')
    t.fail('opened')
  } catch (err) {
    t.ok(isIotlessError(err, 'STORE_UNAVAILABLE'), String(err))
    t.match((err as Error).message, /^adapter\.dedup\.path: cannot open the SQLite store at /)
  }
})
