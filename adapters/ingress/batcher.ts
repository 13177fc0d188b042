import type { Clock, TimerHandle } from '../../core/clock.js'

/**
 * Micro-batching for one route: items collect until `maxItems` have arrived or `maxWaitMs` has passed since
 * the first, then `flush` runs once for the whole batch. Every `add` resolves with what `flush` returned for
 * its batch, so a message's acknowledgement follows its batch's outcome.
 */
export class Batcher<T, R> {
  readonly #maxItems: number
  readonly #maxWaitMs: number
  readonly #clock: Clock
  readonly #flush: (items: T[]) => Promise<R>
  #items: T[] = []
  #waiters: Array<{ resolve: (r: R) => void; reject: (e: unknown) => void }> = []
  #timer: TimerHandle | undefined

  constructor (opts: { maxItems: number; maxWaitMs: number; clock: Clock; flush: (items: T[]) => Promise<R> }) {
    this.#maxItems = opts.maxItems
    this.#maxWaitMs = opts.maxWaitMs
    this.#clock = opts.clock
    this.#flush = opts.flush
  }

  get pending (): number { return this.#items.length }

  add (item: T): Promise<R> {
    const p = new Promise<R>((resolve, reject) => { this.#waiters.push({ resolve, reject }) })
    this.#items.push(item)
    if (this.#items.length >= this.#maxItems) {
      this.flushNow()
    } else if (this.#items.length === 1) {
      this.#timer = this.#clock.setTimeout(() => { this.#timer = undefined; this.flushNow() }, this.#maxWaitMs)
    }
    return p
  }

  /** Sends what has collected now (also used on shutdown). */
  flushNow (): void {
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    if (this.#items.length === 0) return
    const items = this.#items
    const waiters = this.#waiters
    this.#items = []
    this.#waiters = []
    this.#flush(items).then(
      (r) => { for (const w of waiters) w.resolve(r) },
      (e: unknown) => { for (const w of waiters) w.reject(e) }
    )
  }
}
