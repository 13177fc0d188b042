import type { StateTx, StateValue } from './effectStore.js'

/** What a backend reads for one key: its value and a version that changes on every write. */
export interface VersionedValue {
  value: StateValue | undefined
  /** 0 when the key is absent. */
  version: number
}

/** The writes a transaction wants to commit, and the versions its reads saw. */
export interface TxPlan {
  reads: Map<string, number>
  writes: Map<string, StateValue | undefined>
}

/**
 * An optimistic transaction: reads go to the backend once per key (and are remembered with their version),
 * writes are buffered. A backend commits the plan atomically only if every read version is unchanged; else the
 * caller runs the function again. One implementation for every backend keeps their semantics identical.
 */
export class OccTx implements StateTx {
  readonly reads = new Map<string, number>()
  readonly writes = new Map<string, StateValue | undefined>()
  private readonly cache = new Map<string, StateValue | undefined>()

  constructor (private readonly read: (key: string) => Promise<VersionedValue>) {}

  async get (key: string): Promise<StateValue | undefined> {
    checkKey(key)
    if (this.writes.has(key)) return clone(this.writes.get(key))
    if (this.cache.has(key)) return clone(this.cache.get(key))
    const got = await this.read(key)
    if (!this.reads.has(key)) this.reads.set(key, got.version)
    this.cache.set(key, got.value)
    return clone(got.value)
  }

  put (key: string, value: StateValue): void {
    checkKey(key)
    if (value === undefined) throw new TypeError('state values are JSON: use delete(key) to remove one')
    this.writes.set(key, clone(value))
  }

  delete (key: string): void {
    checkKey(key)
    this.writes.set(key, undefined)
  }

  async incr (key: string, by = 1): Promise<number> {
    if (!Number.isFinite(by)) throw new TypeError('incr: by must be a finite number')
    const now = await this.get(key)
    if (now !== undefined && typeof now !== 'number') throw new TypeError(`incr: state key ${JSON.stringify(key)} holds a ${typeof now}, not a number`)
    const next = (now ?? 0) + by
    this.writes.set(key, next)
    return next
  }

  plan (): TxPlan {
    return { reads: this.reads, writes: this.writes }
  }
}

function checkKey (key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1024) throw new TypeError('state keys are non-empty strings of at most 1024 characters')
}

function clone<T extends StateValue | undefined> (value: T): T {
  return value === undefined || value === null || typeof value !== 'object' ? value : JSON.parse(JSON.stringify(value)) as T
}

/** Serialises a state value for storage; refuses what JSON would silently change. */
export function encodeValue (value: StateValue | undefined): string {
  const text = JSON.stringify(value === undefined ? null : value)
  if (text === undefined) throw new TypeError('state values are JSON')
  return text
}

/** How often a conflicting optimistic transaction is tried before it fails. */
export const MAX_TX_ATTEMPTS = 16
