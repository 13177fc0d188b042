import { watchAbort } from './abortWatch.js'
import { IotlessError } from './errors.js'

/**
 * A semaphore with a bounded FIFO queue, after Knative's pkg/queue/breaker.go. It knows nothing about
 * HTTP or processes: the proxy turns BREAKER_QUEUE_FULL into a 503, the local pool into a retryable rejection.
 *
 * Knative sizes it as capacity = containerConcurrency, queueDepth = 10 x containerConcurrency, so a request
 * is refused at once when capacity + queueDepth requests are already pending. Capacity can change at run time
 * (the local pool grows it as instances become ready), which Knative's activator breaker also does.
 */
export interface BreakerOptions {
  /** Requests allowed in flight at once. Infinity means no limit. */
  capacity: number
  /** Requests allowed to wait for a slot; one more is refused at once. */
  queueDepth: number
  /**
   * The most capacity will ever be (default: capacity). Knative refuses a request when
   * maxConcurrency + queueDepth are pending (totalSlots in breaker.go); a pool that starts at capacity 0 and
   * grows must count the capacity it will have, or it would refuse work while scaling from zero.
   */
  maxCapacity?: number
}

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
  cleanup: () => void
}

function noop (): void {}

export class Breaker {
  #capacity: number
  readonly queueDepth: number
  readonly #totalSlots: number
  #inFlight = 0
  #waiters: Waiter[] = []

  constructor (opts: BreakerOptions) {
    if (!(opts.capacity >= 0)) throw new RangeError(`breaker capacity must be >= 0, got ${opts.capacity}`)
    if (!(opts.queueDepth >= 0)) throw new RangeError(`breaker queueDepth must be >= 0, got ${opts.queueDepth}`)
    this.#capacity = opts.capacity
    this.queueDepth = opts.queueDepth
    this.#totalSlots = Math.max(opts.maxCapacity ?? opts.capacity, opts.capacity) + opts.queueDepth
  }

  get capacity (): number { return this.#capacity }
  get inFlight (): number { return this.#inFlight }
  get waiting (): number { return this.#waiters.length }

  /** Takes a slot if one is free now; never queues. */
  tryAcquire (): boolean {
    if (this.#inFlight < this.#capacity && this.#waiters.length === 0) {
      this.#inFlight++
      return true
    }
    return false
  }

  /**
   * Resolves when a slot is held. Rejects at once with BREAKER_QUEUE_FULL when the queue is full, and
   * with the signal's reason if it aborts while waiting. Every resolved acquire must be paired with release().
   */
  acquire (signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    if (this.tryAcquire()) return Promise.resolve()
    if (this.#inFlight + this.#waiters.length >= this.#totalSlots) {
      return Promise.reject(new IotlessError('BREAKER_QUEUE_FULL', `pending request queue full (${this.#inFlight} in flight, ${this.#waiters.length} queued)`))
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#waiters.indexOf(waiter)
        if (i >= 0) this.#waiters.splice(i, 1)
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
      }
      // One listener on a shared signal for all its waiters (abortWatch.ts), not one each.
      const waiter: Waiter = { resolve, reject, cleanup: signal === undefined ? noop : watchAbort(signal, onAbort) }
      this.#waiters.push(waiter)
    })
  }

  /**
   * The callback form of acquire, for hot paths that cannot afford a Promise and an AbortSignal per
   * queued request (the queue-proxy). Call it after tryAcquire() failed. Queues `onSlot`, which is called
   * synchronously from release() or setCapacity() with the slot already held, and returns a function that
   * takes it out of the queue again; or returns null at once, queueing nothing, when the queue is full.
   * rejectWaiting() drops callback waiters without calling them.
   */
  enqueue (onSlot: () => void): (() => void) | null {
    if (this.#inFlight + this.#waiters.length >= this.#totalSlots) return null
    const waiter: Waiter = { resolve: onSlot, reject: noop, cleanup: noop }
    this.#waiters.push(waiter)
    return () => {
      const i = this.#waiters.indexOf(waiter)
      if (i >= 0) this.#waiters.splice(i, 1)
    }
  }

  release (): void {
    if (this.#inFlight <= 0) throw new Error('breaker released more times than acquired')
    this.#inFlight--
    this.#drain()
  }

  setCapacity (capacity: number): void {
    if (!(capacity >= 0)) throw new RangeError(`breaker capacity must be >= 0, got ${capacity}`)
    this.#capacity = capacity
    this.#drain()
  }

  /** Rejects everything still waiting, e.g. on shutdown. */
  rejectWaiting (err: Error): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) { w.cleanup(); w.reject(err) }
  }

  #drain (): void {
    while (this.#inFlight < this.#capacity && this.#waiters.length > 0) {
      const w = this.#waiters.shift() as Waiter
      w.cleanup()
      this.#inFlight++
      w.resolve()
    }
  }
}
