/**
 * The two stores that make re-execution harmless (mu2sls, Kallas et al., POPL 2023):
 * - a dedup window: ids of messages whose dispatch succeeded, so a redelivered message is acknowledged without
 *   running again;
 * - an effect log with a small keyed state: each side effect's result is logged by (event id, key) in the same
 *   transaction as the effect, so a re-run replays the log instead of repeating the effect.
 * Every backend (memory, SQLite, Redis, PostgreSQL) implements the same interfaces and runs the same abstract
 * test suite (test/effects/storeSuite.ts), as MQTT.js does for its stores.
 */

/** Ids of messages already dispatched; bounded by age and count. */
export interface DedupStore {
  /** The subset of `ids` recorded and not yet expired at `nowMs`. */
  seen (ids: readonly string[], nowMs: number): Promise<Set<string>>
  /** Records `ids` as dispatched at `nowMs`; resolves once they are durable (see each backend's note). */
  record (ids: readonly string[], nowMs: number): Promise<void>
  /** Entries held now (after pruning at `nowMs`). */
  size (nowMs: number): Promise<number>
  close (): Promise<void>
}

export interface DedupLimits {
  /** Entries older than this are forgotten: 86400000 ms = 1 day. */
  maxAgeMs: number
  /** At most this many entries; the oldest go first. */
  maxEntries: number
}

/** JSON values only: what is stored is what `JSON.stringify` keeps. */
export type StateValue = null | boolean | number | string | StateValue[] | { [key: string]: StateValue }

/** A transaction over the keyed state: reads see its own writes; writes apply only if it commits. */
export interface StateTx {
  get (key: string): Promise<StateValue | undefined>
  put (key: string, value: StateValue): void
  delete (key: string): void
  /** Adds `by` (default 1) to a number (absent counts as 0) and returns the new value. */
  incr (key: string, by?: number): Promise<number>
}

export interface OnceResult<T> {
  value: T
  /** True when the result came from the log: the effect ran in an earlier execution and did not run again. */
  replayed: boolean
}

/** The effect log plus the state it protects. */
export interface EffectStore {
  /**
   * Runs `fn` at most once per (eventId, key): its state writes and the log entry of its result commit in one
   * transaction. A later call with the same pair returns the logged result without running `fn`. When a
   * concurrent execution committed first (a redelivery racing the original), `fn`'s writes are discarded and
   * that execution's result is returned. `fn` may run more than once before one commit wins (optimistic
   * concurrency), so effects outside `tx` belong behind an idempotency key (`${eventId}/${key}`).
   */
  once<T extends StateValue | undefined> (eventId: string, key: string, fn: (tx: StateTx) => T | Promise<T>): Promise<OnceResult<T>>
  /** A transaction with no log entry (reads and writes of the state, retried on conflict). */
  transaction<T> (fn: (tx: StateTx) => T | Promise<T>): Promise<T>
  /** Reads one key outside any transaction. */
  get (key: string): Promise<StateValue | undefined>
  /**
   * Forgets log entries logged more than `logMaxAgeMs` before `nowMs` (default: the store's clock); returns how
   * many. A once() of a forgotten (eventId, key) runs again. The store also does this on its own, at most once
   * per `pruneEveryMs`, after a once() that logged.
   */
  pruneLog (nowMs?: number): Promise<number>
  close (): Promise<void>
}

export interface EffectStoreOptions {
  /** Log entries older than this are pruned: 604800000 ms = 7 days. */
  logMaxAgeMs?: number | undefined
  /** How often a once() that logged also prunes: 60000 ms. */
  pruneEveryMs?: number | undefined
  /** The clock log entries are stamped with (tests). Default Date.now. */
  now?: (() => number) | undefined
}

/** The default age of the effect log: longer than a broker keeps a session (1 day by default) plus retries. */
export const DEFAULT_LOG_MAX_AGE_MS = 604_800_000
