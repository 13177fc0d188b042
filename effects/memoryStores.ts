import type { DedupLimits, DedupStore, EffectStoreOptions, StateValue } from './effectStore.js'
import { OccEffectStore, type CommitOutcome, type LogEntry, type OccBackend } from './occEffectStore.js'
import type { TxPlan, VersionedValue } from './occTx.js'

/** The in-process dedup window: the reference the durable ones are tested against; lost with the process. */
export class MemoryDedupStore implements DedupStore {
  /** Insertion order is age order: a Map iterates oldest first. */
  private readonly ids = new Map<string, number>()
  constructor (private readonly limits: DedupLimits) {}

  async seen (ids: readonly string[], nowMs: number): Promise<Set<string>> {
    this.prune(nowMs)
    return new Set(ids.filter((id) => this.ids.has(id)))
  }

  async record (ids: readonly string[], nowMs: number): Promise<void> {
    for (const id of ids) {
      this.ids.delete(id)
      this.ids.set(id, nowMs)
    }
    this.prune(nowMs)
  }

  async size (nowMs: number): Promise<number> {
    this.prune(nowMs)
    return this.ids.size
  }

  async close (): Promise<void> {}

  private prune (nowMs: number): void {
    const oldest = nowMs - this.limits.maxAgeMs
    for (const [id, at] of this.ids) {
      if (at >= oldest && this.ids.size <= this.limits.maxEntries) break
      this.ids.delete(id)
    }
  }
}

class MemoryBackend implements OccBackend {
  private readonly state = new Map<string, { json: string; version: number }>()
  private readonly log = new Map<string, { json: string; at: number }>()
  private nextVersion = 1

  async readKey (key: string): Promise<VersionedValue> {
    const row = this.state.get(key)
    return row === undefined ? { value: undefined, version: 0 } : { value: JSON.parse(row.json) as StateValue, version: row.version }
  }

  async readLog (eventId: string, key: string): Promise<string | undefined> {
    return this.log.get(logKey(eventId, key))?.json
  }

  async commit (plan: TxPlan, log: LogEntry | undefined): Promise<CommitOutcome> {
    if (log !== undefined) {
      const had = this.log.get(logKey(log.eventId, log.key))
      if (had !== undefined) return { kind: 'logged', resultJson: had.json }
    }
    for (const [key, version] of plan.reads) if ((this.state.get(key)?.version ?? 0) !== version) return { kind: 'conflict' }
    for (const [key, value] of plan.writes) {
      if (value === undefined) this.state.delete(key)
      else this.state.set(key, { json: JSON.stringify(value), version: this.nextVersion++ })
    }
    if (log !== undefined) this.log.set(logKey(log.eventId, log.key), { json: log.resultJson, at: log.atMs })
    return { kind: 'committed' }
  }

  async pruneLog (beforeMs: number): Promise<number> {
    let n = 0
    for (const [k, e] of this.log) if (e.at < beforeMs) { this.log.delete(k); n++ }
    return n
  }

  async close (): Promise<void> {}
}

function logKey (eventId: string, key: string): string {
  return `${eventId.length}:${eventId}${key}`
}

/** The in-process effect store (tests, and a function that needs no durability). */
export function memoryEffectStore (opts: EffectStoreOptions = {}): OccEffectStore {
  return new OccEffectStore(new MemoryBackend(), 'memory', Math.random, opts)
}
