import type { DispatchResult, Target } from '../target.js'

/**
 * A shared uplink as placement sees it (an edge box's WAN link): one serial queue of bytes. Every request sent
 * over it (whichever route or function sent it) is noted with `sent`; its bytes leave at `msPerByte` after the
 * bytes ahead of them, so a message sent now waits `waitMs()` before its own first byte goes. `msPerByte` is
 * learned elsewhere (a tier's transfer fit: its slope is the inverse throughput); 0 until then (no wait).
 * When nothing is in flight the link is idle, whatever the estimate said. Pure: the clock is injected.
 */
export class LinkQueue {
  readonly #now: () => number
  #freeAt = 0
  #inFlight = 0
  /** ms per byte on the link (inverse throughput); set from a transfer fit. */
  msPerByte = 0

  constructor (now: () => number) { this.#now = now }

  /** Requests sent and not yet answered. */
  get inFlight (): number { return this.#inFlight }

  /** A request of `bytes` starts over the link now. */
  sent (bytes: number): void {
    const now = this.#now()
    const start = Math.max(now, this.#freeAt)
    this.#freeAt = start + Math.max(0, bytes) * this.msPerByte
    this.#inFlight++
  }

  /** A request's answer came back (so its upload is over). */
  done (): void {
    if (this.#inFlight > 0) this.#inFlight--
    if (this.#inFlight === 0) this.#freeAt = Math.min(this.#freeAt, this.#now())
  }

  /** How long a request sent now waits for the bytes ahead of it, ms. */
  waitMs (): number { return Math.max(0, this.#freeAt - this.#now()) }
}

/**
 * `inner` with every request noted on `link` (sent with its payload bytes, done when it settles): every sender
 * over one uplink (each route's placement, and anything else sending there) goes through one such wrapper, or
 * shares its LinkQueue, so the wait a placement predicts counts all the bytes ahead, not only its own.
 */
export function linkedTarget (inner: Target, link: LinkQueue): Target {
  const note = async (bytes: number, send: () => Promise<DispatchResult>): Promise<DispatchResult> => {
    link.sent(bytes)
    try { return await send() } finally { link.done() }
  }
  const t: Target = {
    kind: inner.kind,
    dispatch: (fn, ev, opts) => note(ev.data.length, () => inner.dispatch(fn, ev, opts)),
    close: () => inner.close()
  }
  if (inner.dispatchBatch !== undefined) {
    const batch = inner.dispatchBatch.bind(inner)
    t.dispatchBatch = (fn, evs, opts) => note(evs.reduce((s, e) => s + e.data.length, 0), () => batch(fn, evs, opts))
  }
  if (inner.load !== undefined) t.load = (fn) => inner.load?.(fn)
  return t
}
