import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { IotlessError } from '../core/errors.js'
import type { DedupLimits, DedupStore, EffectStoreOptions, StateValue } from './effectStore.js'
import { loadDriver } from './loadDriver.js'
import { OccEffectStore, type CommitOutcome, type LogEntry, type OccBackend } from './occEffectStore.js'
import { encodeValue, type TxPlan, type VersionedValue } from './occTx.js'

type Database = BetterSqlite3.Database

/**
 * Opens (creating it and its folder) the SQLite file of an embedded store. Durable means: WAL with
 * synchronous=FULL, so each commit is fsync'd before it returns; a kill -9 or a power cut loses no committed
 * entry. One fsync per commit is the cost, which is why the adapter records a tick's ids in one commit.
 */
export function openSqlite (path: string, field: string): Database {
  const Sqlite = loadDriver<typeof BetterSqlite3>('better-sqlite3', field)
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    const db = new Sqlite(path)
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.pragma('busy_timeout = 5000')
    return db
  } catch (err) {
    throw new IotlessError('STORE_UNAVAILABLE', `${field}: cannot open the SQLite store at ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/** The dedup window in a SQLite file. */
export class SqliteDedupStore implements DedupStore {
  private readonly insert: BetterSqlite3.Statement<[string, number]>
  private readonly pruneAge: BetterSqlite3.Statement<[number]>
  private readonly pruneCount: BetterSqlite3.Statement<[number]>
  private readonly count: BetterSqlite3.Statement<[], { n: number }>
  private readonly recordMany: (ids: readonly string[], nowMs: number) => void
  private rows: number

  constructor (private readonly db: Database, private readonly limits: DedupLimits) {
    db.exec('CREATE TABLE IF NOT EXISTS iotless_dedup (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID; CREATE INDEX IF NOT EXISTS iotless_dedup_at ON iotless_dedup (at)')
    this.insert = db.prepare('INSERT INTO iotless_dedup (id, at) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at')
    this.pruneAge = db.prepare('DELETE FROM iotless_dedup WHERE at < ?')
    this.pruneCount = db.prepare('DELETE FROM iotless_dedup WHERE id IN (SELECT id FROM iotless_dedup ORDER BY at LIMIT ?)')
    this.count = db.prepare('SELECT count(*) AS n FROM iotless_dedup')
    this.rows = this.count.get()?.n ?? 0
    this.recordMany = db.transaction((ids: readonly string[], nowMs: number) => {
      for (const id of ids) this.rows += this.insert.run(id, nowMs).changes > 0 ? 1 : 0
      this.prune(nowMs)
    })
  }

  async seen (ids: readonly string[], nowMs: number): Promise<Set<string>> {
    const found = new Set<string>()
    const oldest = nowMs - this.limits.maxAgeMs
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500)
      const rows = this.db.prepare(`SELECT id FROM iotless_dedup WHERE at >= ? AND id IN (${chunk.map(() => '?').join(',')})`).all(oldest, ...chunk) as Array<{ id: string }>
      for (const r of rows) found.add(r.id)
    }
    return found
  }

  async record (ids: readonly string[], nowMs: number): Promise<void> {
    if (ids.length > 0) this.recordMany(ids, nowMs)
  }

  async size (nowMs: number): Promise<number> {
    this.db.transaction(() => this.prune(nowMs))()
    return this.rows
  }

  async close (): Promise<void> {
    if (this.db.open) this.db.close()
  }

  /** Upserts counted as inserts over-count; the exact count is re-read when pruning by size. */
  private prune (nowMs: number): void {
    this.rows -= this.pruneAge.run(nowMs - this.limits.maxAgeMs).changes
    if (this.rows > this.limits.maxEntries) {
      this.rows = this.count.get()?.n ?? 0
      if (this.rows > this.limits.maxEntries) this.rows -= this.pruneCount.run(this.rows - this.limits.maxEntries).changes
    }
  }
}

class SqliteBackend implements OccBackend {
  private readonly readState: BetterSqlite3.Statement<[string], { value: string; version: number }>
  private readonly readLogStmt: BetterSqlite3.Statement<[string, string], { result: string }>
  private readonly commitTx: (plan: TxPlan, log: LogEntry | undefined) => CommitOutcome
  private readonly pruneStmt: BetterSqlite3.Statement<[number]>

  constructor (private readonly db: Database) {
    db.exec(`CREATE TABLE IF NOT EXISTS iotless_state (key TEXT PRIMARY KEY, value TEXT NOT NULL, version INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS iotless_effect_log (event_id TEXT NOT NULL, key TEXT NOT NULL, result TEXT NOT NULL, PRIMARY KEY (event_id, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS iotless_state_clock (one INTEGER PRIMARY KEY CHECK (one = 1), version INTEGER NOT NULL);
      INSERT OR IGNORE INTO iotless_state_clock (one, version) VALUES (1, 0);`)
    // The log's age column came later: a file from before gets it, its entries stamped now (pruned a full
    // logMaxAgeMs from now, never at once).
    const columns = db.prepare('SELECT name FROM pragma_table_info(\'iotless_effect_log\')').all() as Array<{ name: string }>
    if (!columns.some((c) => c.name === 'at')) {
      db.transaction(() => {
        db.exec('ALTER TABLE iotless_effect_log ADD COLUMN at INTEGER NOT NULL DEFAULT 0')
        db.prepare('UPDATE iotless_effect_log SET at = ?').run(Date.now())
      }).immediate()
    }
    db.exec('CREATE INDEX IF NOT EXISTS iotless_effect_log_at ON iotless_effect_log (at)')
    this.pruneStmt = db.prepare('DELETE FROM iotless_effect_log WHERE at < ?')
    this.readState = db.prepare('SELECT value, version FROM iotless_state WHERE key = ?')
    this.readLogStmt = db.prepare('SELECT result FROM iotless_effect_log WHERE event_id = ? AND key = ?')
    const tick = db.prepare('UPDATE iotless_state_clock SET version = version + 1 WHERE one = 1 RETURNING version')
    const upsert = db.prepare('INSERT INTO iotless_state (key, value, version) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = excluded.version')
    const del = db.prepare('DELETE FROM iotless_state WHERE key = ?')
    const addLog = db.prepare('INSERT INTO iotless_effect_log (event_id, key, result, at) VALUES (?, ?, ?, ?)')
    // better-sqlite3 transactions are synchronous, so the check and the writes cannot interleave with another
    // commit of this process; BEGIN IMMEDIATE (the .immediate form) serialises other processes on the file.
    this.commitTx = db.transaction((plan: TxPlan, log: LogEntry | undefined): CommitOutcome => {
      if (log !== undefined) {
        const had = this.readLogStmt.get(log.eventId, log.key)
        if (had !== undefined) return { kind: 'logged', resultJson: had.result }
      }
      for (const [key, version] of plan.reads) if ((this.readState.get(key)?.version ?? 0) !== version) return { kind: 'conflict' }
      if (plan.writes.size > 0) {
        const version = (tick.get() as { version: number }).version
        for (const [key, value] of plan.writes) {
          if (value === undefined) del.run(key)
          else upsert.run(key, encodeValue(value), version)
        }
      }
      if (log !== undefined) addLog.run(log.eventId, log.key, log.resultJson, log.atMs)
      return { kind: 'committed' }
    }).immediate
  }

  async readKey (key: string): Promise<VersionedValue> {
    const row = this.readState.get(key)
    return row === undefined ? { value: undefined, version: 0 } : { value: JSON.parse(row.value) as StateValue, version: row.version }
  }

  async readLog (eventId: string, key: string): Promise<string | undefined> {
    return this.readLogStmt.get(eventId, key)?.result
  }

  async commit (plan: TxPlan, log: LogEntry | undefined): Promise<CommitOutcome> {
    return this.commitTx(plan, log)
  }

  async pruneLog (beforeMs: number): Promise<number> {
    return this.pruneStmt.run(beforeMs).changes
  }

  async close (): Promise<void> {
    if (this.db.open) this.db.close()
  }
}

/** The effect log and state in a SQLite file (the edge box's embedded store). */
export function sqliteEffectStore (db: Database, opts: EffectStoreOptions = {}): OccEffectStore {
  return new OccEffectStore(new SqliteBackend(db), 'sqlite', Math.random, opts)
}
