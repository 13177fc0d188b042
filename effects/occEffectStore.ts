import { IotlessError } from '../core/errors.js'
import { DEFAULT_LOG_MAX_AGE_MS, type EffectStore, type EffectStoreOptions, type OnceResult, type StateTx, type StateValue } from './effectStore.js'
import { MAX_TX_ATTEMPTS, OccTx, encodeValue, type TxPlan, type VersionedValue } from './occTx.js'

/** A log entry: the encoded result of (eventId, key). */
export interface LogEntry { eventId: string; key: string; resultJson: string; /** When it was logged (ms), for pruning by age. */ atMs: number }

export type CommitOutcome =
  | { kind: 'committed' }
  /** A read version changed since it was read: run the function again. */
  | { kind: 'conflict' }
  /** The log already holds (eventId, key): another execution won; nothing was written. */
  | { kind: 'logged'; resultJson: string }

/** The three operations a backend supplies; the retry loop and the semantics live here, once. */
export interface OccBackend {
  readKey (key: string): Promise<VersionedValue>
  /** The logged result of (eventId, key), or undefined. */
  readLog (eventId: string, key: string): Promise<string | undefined>
  /** Atomically: if `log` is given and already present, `logged`; if any read version changed, `conflict`; else apply. */
  commit (plan: TxPlan, log: LogEntry | undefined): Promise<CommitOutcome>
  /** Deletes the log entries logged before `beforeMs`; resolves to how many. */
  pruneLog (beforeMs: number): Promise<number>
  close (): Promise<void>
}

export class OccEffectStore implements EffectStore {
  /**
   * First attempts run concurrently; a transaction that lost a conflict retries under this lock, so within one
   * process retries never fight each other (40 events on one hot counter would otherwise need up to 40 rounds
   * each). Against other processes, a short random pause before each retry spreads the contenders.
   */
  private retryChain: Promise<void> = Promise.resolve()
  private readonly logMaxAgeMs: number
  private readonly pruneEveryMs: number
  private readonly now: () => number
  private lastPrune: number

  constructor (private readonly backend: OccBackend, private readonly name: string, private readonly random: () => number = Math.random, opts: EffectStoreOptions = {}) {
    this.logMaxAgeMs = opts.logMaxAgeMs ?? DEFAULT_LOG_MAX_AGE_MS
    this.pruneEveryMs = opts.pruneEveryMs ?? 60_000
    this.now = opts.now ?? Date.now
    this.lastPrune = this.now()
  }

  async pruneLog (nowMs = this.now()): Promise<number> {
    this.lastPrune = nowMs
    return await this.guard(() => this.backend.pruneLog(nowMs - this.logMaxAgeMs))
  }

  async once<T extends StateValue | undefined> (eventId: string, key: string, fn: (tx: StateTx) => T | Promise<T>): Promise<OnceResult<T>> {
    if (typeof eventId !== 'string' || eventId.length === 0) throw new TypeError('once: the event id is a non-empty string')
    if (typeof key !== 'string' || key.length === 0) throw new TypeError('once: the key is a non-empty string')
    const logged = await this.guard(() => this.backend.readLog(eventId, key))
    if (logged !== undefined) return { value: decode<T>(logged), replayed: true }
    const attempt = async (): Promise<OnceResult<T> | undefined> => {
      const tx = new OccTx((k) => this.guard(() => this.backend.readKey(k)))
      const value = await fn(tx)
      const outcome = await this.guard(() => this.backend.commit(tx.plan(), { eventId, key, resultJson: encodeResult(value), atMs: this.now() }))
      if (outcome.kind === 'committed') return { value, replayed: false }
      if (outcome.kind === 'logged') return { value: decode<T>(outcome.resultJson), replayed: true }
      return undefined
    }
    const first = (await attempt()) ?? (await this.retrying(attempt))
    if (first !== undefined) {
      if (!first.replayed) await this.pruneIfDue()
      return first
    }
    throw new IotlessError('EFFECT_CONFLICT', `once(${JSON.stringify(key)}) for event ${eventId}: ${MAX_TX_ATTEMPTS} attempts all conflicted with concurrent writers in the ${this.name} store`)
  }

  async transaction<T> (fn: (tx: StateTx) => T | Promise<T>): Promise<T> {
    const attempt = async (): Promise<{ value: T } | undefined> => {
      const tx = new OccTx((k) => this.guard(() => this.backend.readKey(k)))
      const value = await fn(tx)
      if (tx.writes.size === 0) return { value }
      const outcome = await this.guard(() => this.backend.commit(tx.plan(), undefined))
      return outcome.kind === 'committed' ? { value } : undefined
    }
    const done = (await attempt()) ?? (await this.retrying(attempt))
    if (done !== undefined) return done.value
    throw new IotlessError('EFFECT_CONFLICT', `a state transaction conflicted ${MAX_TX_ATTEMPTS} times with concurrent writers in the ${this.name} store`)
  }

  async get (key: string): Promise<StateValue | undefined> {
    return (await this.guard(() => this.backend.readKey(key))).value
  }

  close (): Promise<void> {
    return this.backend.close()
  }

  /** At most once per pruneEveryMs; a failure to prune is left for the next time (the once() itself committed). */
  private async pruneIfDue (): Promise<void> {
    const now = this.now()
    if (now - this.lastPrune < this.pruneEveryMs) return
    await this.pruneLog(now).catch(() => {})
  }

  /** Runs the remaining attempts under the retry lock, with a pause of up to 2^n ms (capped at 50 ms) before each. */
  private async retrying<R> (attempt: () => Promise<R | undefined>): Promise<R | undefined> {
    const previous = this.retryChain
    let release = (): void => {}
    this.retryChain = new Promise<void>((resolve) => { release = resolve })
    await previous
    try {
      for (let n = 2; n <= MAX_TX_ATTEMPTS; n++) {
        const result = await attempt()
        if (result !== undefined) return result
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 ** (n - 2)) * this.random()))
      }
      return undefined
    } finally {
      release()
    }
  }

  /** A backend that fails at run time fails the invocation with a code; it never pretends to have logged. */
  private async guard<R> (op: () => Promise<R>): Promise<R> {
    try {
      return await op()
    } catch (err) {
      if (err instanceof IotlessError) throw err
      throw new IotlessError('STORE_UNAVAILABLE', `the ${this.name} effect store failed: ${(err as Error).message}`, { cause: err })
    }
  }
}

/** `{}` for undefined, `{"v": value}` otherwise, so a logged null replays as null and undefined as undefined. */
function encodeResult (value: StateValue | undefined): string {
  return value === undefined ? '{}' : `{"v":${encodeValue(value)}}`
}

function decode<T> (json: string): T {
  return (JSON.parse(json) as { v?: unknown }).v as T
}
