import { watchAbort } from '../../core/abortWatch.js'
import type { Clock } from '../../core/clock.js'
import { IotlessError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { DedupStore } from '../../effects/effectStore.js'

export interface DedupWindowOptions {
  store: DedupStore
  clock: Clock
  log: Logger
  /** Aborted when stopping: a lookup or record waiting for the store gives up, and its message is left to the broker. */
  stopping: AbortSignal
  /** Wait between tries while the store is failing. Default 1000 ms. */
  retryMs?: number | undefined
  /** Called once per failed try (a metric). */
  onStoreError?: (() => void) | undefined
}

interface Waiter<T> { keys: string[]; resolve: (v: T) => void; reject: (e: unknown) => void }

/**
 * The adapter's dedup window over a DedupStore, with group commit: every lookup and record asked for in one
 * turn of the event loop goes to the store as one `seen` / one `record` (one fsync for SQLite, one round trip
 * for Redis); those asked while a call is running wait for the next one. A store that fails is tried again
 * every retryMs, for as long as it takes: the messages waiting hold their acknowledgement (and, through the
 * adapter's in-flight bound, stop reading), never acknowledged blindly. Logged once when the store fails and
 * once when it is back. Stopping gives up the wait: the message stays unacknowledged, with the broker.
 */
export class DedupWindow {
  readonly #o: DedupWindowOptions
  readonly #seen = new Batch<Set<string>>((keys) => this.#o.store.seen(keys, this.#o.clock.now()), (keys, found) => new Set(keys.filter((k) => found.has(k))), this)
  readonly #record = new Batch<undefined>(async (keys) => { await this.#o.store.record(keys, this.#o.clock.now()) }, () => undefined, this)
  #failing = false

  constructor (opts: DedupWindowOptions) {
    this.#o = opts
  }

  get failing (): boolean { return this.#failing }

  /** True when `key` is in the window: its message already succeeded. */
  async seen (key: string): Promise<boolean> {
    return (await this.#seen.add([key])).has(key)
  }

  /** Resolves once `key` is durably recorded. */
  async record (key: string): Promise<void> {
    await this.#record.add([key])
  }

  /** Runs `call` until it succeeds; rejects with STORE_UNAVAILABLE once stopping begins. */
  async retrying<T> (call: () => Promise<T>): Promise<T> {
    const o = this.#o
    for (;;) {
      if (o.stopping.aborted) throw new IotlessError('STORE_UNAVAILABLE', 'adapter.dedup: stopping while the dedup store was failing')
      try {
        const v = await call()
        if (this.#failing) {
          this.#failing = false
          o.log.warn({ code: 'STORE_UNAVAILABLE' }, 'the dedup store is back: acknowledging again')
        }
        return v
      } catch (err) {
        o.onStoreError?.()
        if (!this.#failing) {
          this.#failing = true
          o.log.error({ code: 'STORE_UNAVAILABLE', err: (err as Error).message }, 'the dedup store (adapter.dedup.url) failed: messages are not acknowledged until it is back, and stay with the broker')
        }
        await this.#sleep(o.retryMs ?? 1000)
      }
    }
  }

  #sleep (ms: number): Promise<void> {
    const { clock, stopping } = this.#o
    return new Promise((resolve) => {
      const timer = clock.setTimeout(() => { stop(); resolve() }, ms)
      const stop = watchAbort(stopping, () => { clock.clearTimeout(timer); resolve() })
    })
  }
}

/** Collects keys for one call per turn of the event loop; one call at a time. */
class Batch<T> {
  #pending: Array<Waiter<T>> = []
  #running = false
  #scheduled = false

  constructor (
    private readonly call: (keys: string[]) => Promise<unknown>,
    private readonly pick: (keys: string[], result: Set<string>) => T,
    private readonly window: DedupWindow
  ) {}

  add (keys: string[]): Promise<T> {
    const p = new Promise<T>((resolve, reject) => { this.#pending.push({ keys, resolve, reject }) })
    this.#schedule()
    return p
  }

  #schedule (): void {
    if (this.#running || this.#scheduled || this.#pending.length === 0) return
    this.#scheduled = true
    setImmediate(() => { this.#scheduled = false; void this.#run() })
  }

  async #run (): Promise<void> {
    const waiters = this.#pending
    this.#pending = []
    this.#running = true
    const keys = [...new Set(waiters.flatMap((w) => w.keys))]
    try {
      const result = await this.window.retrying(() => this.call(keys))
      const found = result instanceof Set ? result as Set<string> : new Set<string>()
      for (const w of waiters) w.resolve(this.pick(w.keys, found))
    } catch (err) {
      for (const w of waiters) w.reject(err)
    } finally {
      this.#running = false
      this.#schedule()
    }
  }
}
