import { randomUUID } from 'node:crypto'
import pg from 'pg'
import t from 'tap'
import { isIotlessError } from '../../core/errors.js'
import { openPostgres, postgresEffectStore } from '../../effects/postgresStores.js'
import { effectSuite } from './storeSuite.js'

/** The machine's PostgreSQL (trust auth; CI starts it in .ci/run); each fixture gets a schema of its own, dropped after. */
const URL = process.env.IOTLESS_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const made: string[] = []
function freshSchema (): string {
  const name = `iotless_test_${randomUUID().replaceAll('-', '')}`
  made.push(name)
  return name
}
t.teardown(async () => {
  const c = new pg.Client({ connectionString: URL })
  await c.connect()
  for (const name of made) await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
  await c.end()
})

let schema = ''
effectSuite(t, 'postgres', {
  open: async (opts) => { schema = freshSchema(); return postgresEffectStore(await openPostgres(URL, 'effects.url', schema), opts) },
  second: async () => postgresEffectStore(await openPostgres(URL, 'effects.url', schema))
})

t.test('postgres: an unreachable server is STORE_UNAVAILABLE naming the field', async (t) => {
  try {
    await openPostgres('postgres://postgres@127.0.0.1:1/none', 'effects.url')
    t.fail('connected')
  } catch (err) {
    t.ok(isIotlessError(err, 'STORE_UNAVAILABLE'), String(err))
    t.match((err as Error).message, /^effects\.url: cannot use PostgreSQL: /)
  }
})

t.test('postgres: a log from before pruning gets its age column, its entries stamped now (kept a full logMaxAgeMs)', async (t) => {
  const s0 = freshSchema()
  const c = new pg.Client({ connectionString: URL })
  await c.connect()
  await c.query(`CREATE SCHEMA ${s0}; CREATE TABLE ${s0}.iotless_effect_log (event_id text NOT NULL, key text NOT NULL, result text NOT NULL, PRIMARY KEY (event_id, key)); INSERT INTO ${s0}.iotless_effect_log VALUES ('before', 'count', '{"v":1}')`)
  await c.end()
  const s = postgresEffectStore(await openPostgres(URL, 'effects.url', s0), { logMaxAgeMs: 60_000 })
  t.teardown(() => s.close())
  t.equal(await s.pruneLog(Date.now()), 0, 'not pruned at once')
  t.same(await s.once('before', 'count', () => 2), { value: 1, replayed: true })
  t.equal(await s.pruneLog(Date.now() + 61_000), 1, 'pruned once it is past its age, counted from the upgrade')
})
