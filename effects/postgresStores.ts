import type { Pool, PoolClient, PoolConfig } from 'pg'
import { IotlessError } from '../core/errors.js'
import type { EffectStoreOptions, StateValue } from './effectStore.js'
import { loadDriver } from './loadDriver.js'
import { OccEffectStore, type CommitOutcome, type LogEntry, type OccBackend } from './occEffectStore.js'
import { encodeValue, type TxPlan, type VersionedValue } from './occTx.js'

const SCHEMA = `
CREATE TABLE IF NOT EXISTS iotless_state (key text PRIMARY KEY, value text NOT NULL, version bigint NOT NULL);
CREATE TABLE IF NOT EXISTS iotless_effect_log (event_id text NOT NULL, key text NOT NULL, result text NOT NULL, PRIMARY KEY (event_id, key));
CREATE SEQUENCE IF NOT EXISTS iotless_state_version;
-- The log's age column came later: rows from before are stamped with the time of this change (pruned a full
-- logMaxAgeMs later, never at once).
ALTER TABLE iotless_effect_log ADD COLUMN IF NOT EXISTS at bigint NOT NULL DEFAULT (extract(epoch from clock_timestamp()) * 1000)::bigint;
CREATE INDEX IF NOT EXISTS iotless_effect_log_at ON iotless_effect_log (at);`

/**
 * Connects and creates the tables (in `schema`, created if absent), so a database that cannot be reached stops
 * start-up naming `field`.
 */
export async function openPostgres (url: string, field: string, schema = 'public'): Promise<Pool> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new IotlessError('STORE_UNAVAILABLE', `${field}: the schema name ${JSON.stringify(schema)} is not a lower-case SQL identifier`)
  const pg = loadDriver<{ Pool: new (config: PoolConfig) => Pool }>('pg', field)
  const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 5000, options: `-c search_path=${schema}` })
  pool.on('error', () => { /* an idle client's error; the next query reports it */ })
  try {
    // Two adapters or instances starting at once may race on CREATE ... IF NOT EXISTS; an advisory lock orders them.
    const client = await pool.connect()
    try {
      await client.query('SELECT pg_advisory_lock(4242017)')
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
      await client.query(SCHEMA)
    } finally {
      await client.query('SELECT pg_advisory_unlock(4242017)').catch(() => {})
      client.release()
    }
  } catch (err) {
    await pool.end().catch(() => {})
    throw new IotlessError('STORE_UNAVAILABLE', `${field}: cannot use PostgreSQL: ${(err as Error).message}`, { cause: err })
  }
  return pool
}

class PostgresBackend implements OccBackend {
  constructor (private readonly pool: Pool) {}

  async readKey (key: string): Promise<VersionedValue> {
    const r = await this.pool.query<{ value: string; version: string }>('SELECT value, version FROM iotless_state WHERE key = $1', [key])
    const row = r.rows[0]
    return row === undefined ? { value: undefined, version: 0 } : { value: JSON.parse(row.value) as StateValue, version: Number(row.version) }
  }

  async readLog (eventId: string, key: string): Promise<string | undefined> {
    const r = await this.pool.query<{ result: string }>('SELECT result FROM iotless_effect_log WHERE event_id = $1 AND key = $2', [eventId, key])
    return r.rows[0]?.result
  }

  /**
   * READ COMMITTED with row checks that cannot be fooled: a key read at version v is written with
   * `UPDATE ... WHERE version = v`, a key read absent with `INSERT ... ON CONFLICT DO NOTHING`; either touching
   * no row means another writer came first. The log row's primary key makes a racing execution wait for ours.
   */
  async commit (plan: TxPlan, log: LogEntry | undefined): Promise<CommitOutcome> {
    const client = await this.pool.connect()
    let done = false
    try {
      await client.query('BEGIN')
      if (log !== undefined) {
        const ins = await client.query('INSERT INTO iotless_effect_log (event_id, key, result, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING', [log.eventId, log.key, log.resultJson, log.atMs])
        if (ins.rowCount === 0) {
          await client.query('ROLLBACK')
          done = true
          // Read on the client already held: taking a second one from the pool here could wait forever when
          // every client is held by an execution of the same event, all of them waiting to read (a deadlock
          // until connectionTimeoutMillis; found by 10 racing executions against a pool of 8).
          const had = await client.query<{ result: string }>('SELECT result FROM iotless_effect_log WHERE event_id = $1 AND key = $2', [log.eventId, log.key])
          return { kind: 'logged', resultJson: had.rows[0]?.result ?? '{}' }
        }
      }
      const outcome = await this.apply(client, plan)
      await client.query(outcome.kind === 'committed' ? 'COMMIT' : 'ROLLBACK')
      done = true
      return outcome
    } finally {
      if (!done) await client.query('ROLLBACK').catch(() => {})
      client.release()
    }
  }

  private async apply (client: PoolClient, plan: TxPlan): Promise<CommitOutcome> {
    const version = plan.writes.size > 0 ? Number((await client.query<{ v: string }>("SELECT nextval('iotless_state_version') AS v")).rows[0]?.v) : 0
    for (const [key, readVersion] of plan.reads) {
      if (plan.writes.has(key)) continue
      const r = await client.query<{ version: string }>('SELECT version FROM iotless_state WHERE key = $1 FOR SHARE', [key])
      if (Number(r.rows[0]?.version ?? 0) !== readVersion) return { kind: 'conflict' }
    }
    for (const [key, value] of plan.writes) {
      const readVersion = plan.reads.get(key)
      let touched: number | null
      if (value === undefined) {
        touched = readVersion === undefined
          ? 1
          : readVersion === 0
            ? ((await client.query('SELECT 1 FROM iotless_state WHERE key = $1', [key])).rowCount === 0 ? 1 : 0)
            : (await client.query('DELETE FROM iotless_state WHERE key = $1 AND version = $2', [key, readVersion])).rowCount
        if (readVersion === undefined) await client.query('DELETE FROM iotless_state WHERE key = $1', [key])
      } else if (readVersion === undefined) {
        touched = (await client.query('INSERT INTO iotless_state (key, value, version) VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version', [key, encodeValue(value), version])).rowCount
      } else if (readVersion === 0) {
        touched = (await client.query('INSERT INTO iotless_state (key, value, version) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [key, encodeValue(value), version])).rowCount
      } else {
        touched = (await client.query('UPDATE iotless_state SET value = $2, version = $3 WHERE key = $1 AND version = $4', [key, encodeValue(value), version, readVersion])).rowCount
      }
      if (touched === 0) return { kind: 'conflict' }
    }
    return { kind: 'committed' }
  }

  async pruneLog (beforeMs: number): Promise<number> {
    return (await this.pool.query('DELETE FROM iotless_effect_log WHERE at < $1', [beforeMs])).rowCount ?? 0
  }

  async close (): Promise<void> {
    await this.pool.end()
  }
}

/** The effect log and state in PostgreSQL: a row per logged effect, committed with the state it changed. */
export function postgresEffectStore (pool: Pool, opts: EffectStoreOptions = {}): OccEffectStore {
  return new OccEffectStore(new PostgresBackend(pool), 'postgres', Math.random, opts)
}
