import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { isIotlessError } from '../../core/errors.js'
import { SqliteDedupStore, openSqlite, sqliteEffectStore } from '../../effects/sqliteStores.js'
import { SqliteWorkerDedupStore } from '../../effects/sqliteWorkerDedupStore.js'
import { dedupSuite, effectSuite } from './storeSuite.js'

const dir = mkdtempSync(join(tmpdir(), 'iotless-sqlite-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

let dedupPath = ''
dedupSuite(t, 'sqlite', {
  open: async (limits) => { dedupPath = join(dir, `dedup-${n++}`, 'iotless.db'); return new SqliteDedupStore(openSqlite(dedupPath, 'effects.path'), limits) },
  reopen: async (limits) => new SqliteDedupStore(openSqlite(dedupPath, 'effects.path'), limits)
})

let workerPath = ''
dedupSuite(t, 'sqlite (worker thread)', {
  open: async (limits) => { workerPath = join(dir, `wdedup-${n++}`, 'iotless.db'); return await SqliteWorkerDedupStore.open(workerPath, limits, 'adapter.dedup.url') },
  reopen: async (limits) => await SqliteWorkerDedupStore.open(workerPath, limits, 'adapter.dedup.url')
})

t.test('sqlite (worker thread): records of one store are seen through the main-thread store on the same file', async (t) => {
  const path = join(dir, 'shared-worker.db')
  const w = await SqliteWorkerDedupStore.open(path, { maxAgeMs: 1e9, maxEntries: 1e6 }, 'adapter.dedup.url')
  await w.record(['from-worker'], 1)
  const m = new SqliteDedupStore(openSqlite(path, 'x'), { maxAgeMs: 1e9, maxEntries: 1e6 })
  t.same([...await m.seen(['from-worker', 'other'], 2)], ['from-worker'])
  await m.close()
  await w.close()
  await t.rejects(w.record(['after-close'], 3), { code: 'STORE_UNAVAILABLE' }, 'a closed store refuses, never pretends')
})

t.test('sqlite (worker thread): a path that cannot be created is STORE_UNAVAILABLE naming the field, and leaves no thread behind', async (t) => {
  const file = join(dir, 'a-file-w')
  writeFileSync(file, 'x')
  chmodSync(file, 0o444)
  await t.rejects(SqliteWorkerDedupStore.open(join(file, 'sub', 'iotless.db'), { maxAgeMs: 1, maxEntries: 1 }, 'adapter.dedup.url'),
    { code: 'STORE_UNAVAILABLE', message: /^adapter\.dedup\.url: cannot open the SQLite store at / })
})

let effectPath = ''
effectSuite(t, 'sqlite', {
  open: async (opts) => { effectPath = join(dir, `fx-${n++}.db`); return sqliteEffectStore(openSqlite(effectPath, 'effects.path'), opts) },
  second: async () => sqliteEffectStore(openSqlite(effectPath, 'effects.path'))
})

t.test('sqlite: a log from before pruning gets its age column, its entries stamped now (kept a full logMaxAgeMs)', async (t) => {
  const path = join(dir, 'old-log.db')
  const old = openSqlite(path, 'x')
  old.exec(`CREATE TABLE iotless_effect_log (event_id TEXT NOT NULL, key TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (event_id, key)) WITHOUT ROWID;
    INSERT INTO iotless_effect_log VALUES ('before', 'count', '{"v":1}')`)
  old.close()
  const s = sqliteEffectStore(openSqlite(path, 'x'), { logMaxAgeMs: 60_000 })
  t.teardown(() => s.close())
  t.equal(await s.pruneLog(Date.now()), 0, 'not pruned at once')
  t.same(await s.once('before', 'count', () => 2), { value: 1, replayed: true })
  t.equal(await s.pruneLog(Date.now() + 61_000), 1, 'pruned once it is past its age, counted from the upgrade')
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

t.test('sqlite (worker thread): a record resolved before kill -9 survives it', async (t) => {
  const path = join(dir, 'killed-worker.db')
  const script = `
    import { SqliteWorkerDedupStore } from ${JSON.stringify(new URL('../../effects/sqliteWorkerDedupStore.js', import.meta.url).href)}
    const s = await SqliteWorkerDedupStore.open(${JSON.stringify(path)}, { maxAgeMs: 1e9, maxEntries: 1e6 }, 'x')
    await s.record(['before-kill-w'], 1)
    process.kill(process.pid, 'SIGKILL')`
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  t.equal(r.signal, 'SIGKILL', r.stderr)
  const s = new SqliteDedupStore(openSqlite(path, 'x'), { maxAgeMs: 1e9, maxEntries: 1e6 })
  t.teardown(() => s.close())
  t.same([...await s.seen(['before-kill-w'], 2)], ['before-kill-w'])
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
