import { systemClock, type Clock, type TimerHandle } from '../../core/clock.js'

/**
 * What undici needs of a request's signal (it takes an EventTarget or an EventEmitter): `aborted`, `reason`, and
 * one 'abort' listener added and removed. A plain object, so a request costs no AbortSignal of its own.
 */
export class RequestSignal {
  aborted = false
  reason: unknown = undefined
  /** It was aborted by its deadline, not by the caller's signal. */
  timedOut = false
  /** The request has ended: its deadline no longer applies and the caller's abort no longer reaches it. */
  closed = false
  /** When its deadline falls (clock ms), or Infinity: none. */
  at = Infinity
  /** The caller's signal it is registered on, while open (RequestAborts). */
  caller: AbortSignal | undefined = undefined
  #listeners: Array<() => void> = []

  addEventListener (type: string, fn: () => void): void {
    if (type === 'abort' && !this.#listeners.includes(fn)) this.#listeners.push(fn)
  }

  removeEventListener (type: string, fn: () => void): void {
    if (type !== 'abort') return
    const k = this.#listeners.indexOf(fn)
    if (k >= 0) this.#listeners.splice(k, 1)
  }

  /** Aborts it once (a closed or aborted one stays as it is); each listener is called once. */
  abort (reason: unknown, timedOut = false): void {
    if (this.aborted || this.closed) return
    this.aborted = true
    this.reason = reason
    this.timedOut = timedOut
    const fns = this.#listeners
    this.#listeners = []
    for (const fn of fns) fn()
  }
}

/** What a request's deadline aborts it with: what AbortSignal.timeout gives. */
function timeoutReason (ms: number): DOMException {
  return new DOMException(`The operation was aborted due to timeout (${ms} ms)`, 'TimeoutError')
}

/**
 * Abort signals for many concurrent requests that share a caller's signal (the adapter's stop) and one deadline
 * length. Before, each request made `AbortSignal.timeout(ms)` and `AbortSignal.any([stop, it])`: a timer and two
 * signals per request, and a listener on the shared stop signal per request, which Node's EventTarget walks in
 * full on every add (with hundreds of requests in flight the walk, and the weakly held listeners of `any`, cost
 * far more than the request's own work). Here the shared signal gets one listener per RequestAborts, the
 * requests in flight sit in a Set, and since every deadline has the same length they fall in the order the
 * requests began: one queue and one timer, armed for the oldest open request.
 */
export class RequestAborts {
  readonly #timeoutMs: number | undefined
  readonly #clock: Clock
  readonly #open = new Map<AbortSignal, Set<RequestSignal>>()
  readonly #onAbort = new Map<AbortSignal, () => void>()
  #queue: RequestSignal[] = []
  #head = 0
  #timer: TimerHandle | undefined

  /** timeoutMs: each request's deadline (undefined: none). */
  constructor (timeoutMs: number | undefined, clock: Clock = systemClock) {
    if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`)
    this.#timeoutMs = timeoutMs
    this.#clock = clock
  }

  /** Requests open on the caller's signals and, apart, in the deadline queue (for tests and leak checks). */
  get size (): { bySignal: number, queued: number } {
    let n = 0
    for (const set of this.#open.values()) n += set.size
    return { bySignal: n, queued: this.#queue.length - this.#head }
  }

  /** A request begins: its signal follows `caller` (if given) and its deadline. Call close() when it ends. */
  open (caller?: AbortSignal): RequestSignal {
    const s = new RequestSignal()
    if (caller !== undefined) {
      if (caller.aborted) { s.abort(caller.reason); return s }
      let set = this.#open.get(caller)
      if (set === undefined) {
        set = new Set()
        this.#open.set(caller, set)
        const onAbort = (): void => { this.#abortAll(caller) }
        this.#onAbort.set(caller, onAbort)
        caller.addEventListener('abort', onAbort, { once: true })
      }
      set.add(s)
      s.caller = caller
    }
    if (this.#timeoutMs !== undefined) {
      s.at = this.#clock.now() + this.#timeoutMs
      this.#queue.push(s)
      if (this.#timer === undefined) this.#arm()
    }
    return s
  }

  /** The request has ended: nothing aborts it any more. */
  close (s: RequestSignal): void {
    if (s.closed) return
    s.closed = true
    // Requests mostly end in the order they began: the queue's head moves on with them, so it holds about the
    // requests in flight, not every request of the last timeoutMs.
    if (this.#queue[this.#head] === s) this.#dropClosed()
    const caller = s.caller
    if (caller === undefined) return
    s.caller = undefined
    const set = this.#open.get(caller)
    if (set === undefined) return
    set.delete(s)
    if (set.size === 0) this.#forget(caller)
  }

  #forget (caller: AbortSignal): void {
    const onAbort = this.#onAbort.get(caller)
    if (onAbort !== undefined) caller.removeEventListener('abort', onAbort)
    this.#onAbort.delete(caller)
    this.#open.delete(caller)
  }

  #abortAll (caller: AbortSignal): void {
    const set = this.#open.get(caller)
    this.#onAbort.delete(caller)
    this.#open.delete(caller)
    if (set === undefined) return
    for (const s of set) { s.caller = undefined; s.abort(caller.reason) }
  }

  #dropClosed (): void {
    while (this.#head < this.#queue.length && (this.#queue[this.#head] as RequestSignal).closed) this.#head++
    if (this.#head === this.#queue.length) { this.#queue.length = 0; this.#head = 0 } else if (this.#head > 1024 && this.#head * 2 > this.#queue.length) { this.#queue = this.#queue.slice(this.#head); this.#head = 0 }
  }

  /** One timer, for the oldest request still open (the timer stays when that one ends: it re-arms as it fires). */
  #arm (): void {
    this.#dropClosed()
    if (this.#head === this.#queue.length) return
    const first = this.#queue[this.#head] as RequestSignal
    this.#timer = this.#clock.setTimeout(() => { this.#fire() }, Math.max(0, first.at - this.#clock.now()))
  }

  #fire (): void {
    this.#timer = undefined
    const now = this.#clock.now()
    const due: RequestSignal[] = []
    while (this.#head < this.#queue.length) {
      const s = this.#queue[this.#head] as RequestSignal
      if (!s.closed && s.at > now) break
      this.#head++
      if (!s.closed) due.push(s)
    }
    this.#arm()
    for (const s of due) s.abort(timeoutReason(this.#timeoutMs as number), true)
  }
}
