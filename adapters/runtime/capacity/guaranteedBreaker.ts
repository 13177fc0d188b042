import { watchAbort } from '../../../core/abortWatch.js'
import { IotlessError } from '../../../core/errors.js'

function noop (): void {}

/**
 * The local pool's breaker (core/breaker.ts: a semaphore with a bounded queue) with two classes of request, for a
 * function with a guarantee (Real-time Serverless, Nguyen et al., WoSC 2019): invocations within the guarantee
 * (admitted by its token bucket, guaranteeGate.ts) and those above it (overflow, best effort).
 *
 * - Admitted requests have their own FIFO, always served before the overflow's: a freed slot goes to the oldest
 *   admitted waiter first.
 * - `reservedSlots` slots (the guarantee's reserved instances x concurrency) are held back for admitted requests:
 *   overflow may start only while `inFlight + max(0, reservedSlots - admittedInFlight) < capacity`, so overflow
 *   never occupies the slots the guarantee was sized on, and an admitted request that arrives while the function's
 *   own overflow keeps every other slot busy starts at once instead of waiting for an overflow request to end.
 *   Admitted requests may use any free slot (a burst above the reservation spills into the shared ones).
 * - Refusal: overflow is refused at once when `maxCapacity + queueDepth` requests of either class are pending (as
 *   Knative's breaker.go totalSlots); admitted requests are bounded only by their own `admittedQueueDepth`, so the
 *   overflow filling the queue never refuses an invocation within the guarantee.
 *
 * With no admitted traffic and `reservedSlots` 0 it is exactly core/breaker.ts. No I/O, no timers.
 */
export interface GuaranteedBreakerOptions {
  /** Requests allowed in flight at once (ready instances x concurrency); changes at run time. */
  capacity: number
  /** The most capacity will ever be (maxScale x concurrency). */
  maxCapacity: number
  /** Best-effort requests that may wait (the pool's queue depth). */
  queueDepth: number
  /** Admitted requests that may wait; default maxCapacity + queueDepth. */
  admittedQueueDepth?: number
  /** Slots held back for admitted requests; 0 without a guarantee. */
  reservedSlots: number
}

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
  cleanup: () => void
}

export class GuaranteedBreaker {
  #capacity: number
  readonly #totalSlots: number
  readonly #admittedDepth: number
  #reserved: number
  #inFlight = 0
  #admittedInFlight = 0
  #admitted: Waiter[] = []
  #overflow: Waiter[] = []

  constructor (o: GuaranteedBreakerOptions) {
    if (!(o.capacity >= 0)) throw new RangeError(`breaker capacity must be >= 0, got ${o.capacity}`)
    if (!(o.queueDepth >= 0)) throw new RangeError(`breaker queueDepth must be >= 0, got ${o.queueDepth}`)
    this.#capacity = o.capacity
    this.#totalSlots = Math.max(o.maxCapacity, o.capacity) + o.queueDepth
    this.#admittedDepth = o.admittedQueueDepth ?? this.#totalSlots
    this.#reserved = Math.max(0, o.reservedSlots)
  }

  get capacity (): number { return this.#capacity }
  get inFlight (): number { return this.#inFlight }
  get waiting (): number { return this.#admitted.length + this.#overflow.length }
  get admittedInFlight (): number { return this.#admittedInFlight }
  get admittedWaiting (): number { return this.#admitted.length }
  get reservedSlots (): number { return this.#reserved }

  /**
   * Resolves when a slot is held; `admitted`: the request is within its function's guarantee. Rejects with
   * BREAKER_QUEUE_FULL when its class's queue is full, or with the signal's reason if it aborts while waiting.
   * Every resolved acquire must be paired with release(admitted) of the same class.
   */
  acquire (admitted: boolean, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    if (admitted ? this.#admittedMayStart() : this.#overflowMayStart()) {
      this.#take(admitted)
      return Promise.resolve()
    }
    const queue = admitted ? this.#admitted : this.#overflow
    if (admitted ? this.#admitted.length >= this.#admittedDepth : this.#inFlight + this.waiting >= this.#totalSlots) {
      const which = admitted ? 'admitted (within the guarantee)' : 'pending'
      return Promise.reject(new IotlessError('BREAKER_QUEUE_FULL', `${which} request queue full (${this.#inFlight} in flight, ${this.waiting} queued)`))
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = queue.indexOf(waiter)
        if (i >= 0) queue.splice(i, 1)
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
        // A best-effort waiter that gave up may have been what held later ones back: nothing changes for them,
        // but an admitted waiter leaving can free the reservation for overflow.
        this.#drain()
      }
      const waiter: Waiter = { resolve, reject, cleanup: signal === undefined ? noop : watchAbort(signal, onAbort) }
      queue.push(waiter)
    })
  }

  release (admitted: boolean): void {
    if (this.#inFlight <= 0) throw new Error('breaker released more times than acquired')
    if (admitted && this.#admittedInFlight <= 0) throw new Error('admitted slot released more times than acquired')
    this.#inFlight--
    if (admitted) this.#admittedInFlight--
    this.#drain()
  }

  setCapacity (capacity: number): void {
    if (!(capacity >= 0)) throw new RangeError(`breaker capacity must be >= 0, got ${capacity}`)
    this.#capacity = capacity
    this.#drain()
  }

  setReservedSlots (slots: number): void {
    this.#reserved = Math.max(0, slots)
    this.#drain()
  }

  /** Rejects everything still waiting, e.g. on shutdown. */
  rejectWaiting (err: Error): void {
    const waiters = [...this.#admitted, ...this.#overflow]
    this.#admitted = []
    this.#overflow = []
    for (const w of waiters) { w.cleanup(); w.reject(err) }
  }

  #admittedMayStart (): boolean { return this.#inFlight < this.#capacity && this.#admitted.length === 0 }

  #overflowMayStart (): boolean {
    return this.#admitted.length === 0 && this.#overflow.length === 0 && this.#overflowFits()
  }

  #overflowFits (): boolean {
    return this.#inFlight + Math.max(0, this.#reserved - this.#admittedInFlight) < this.#capacity
  }

  #take (admitted: boolean): void {
    this.#inFlight++
    if (admitted) this.#admittedInFlight++
  }

  #drain (): void {
    while (this.#inFlight < this.#capacity && this.#admitted.length > 0) {
      const w = this.#admitted.shift() as Waiter
      w.cleanup()
      this.#take(true)
      w.resolve()
    }
    while (this.#admitted.length === 0 && this.#overflow.length > 0 && this.#overflowFits()) {
      const w = this.#overflow.shift() as Waiter
      w.cleanup()
      this.#take(false)
      w.resolve()
    }
  }
}
