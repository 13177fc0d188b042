import type { ProxyContext } from '../proxyContext.js'
import type { RequestSpan, RequestSpanStart } from '../../core/tracing/requestTracer.js'
import { admitStream, countStreamOut, revisionTimeoutFired } from './streamAccounting.js'

/** How a stream's admission went: dispatched now, waiting in the breaker's queue, or refused (queue full). */
export type Admission = 'now' | 'queued' | 'full'

/**
 * One HTTP/2 stream's place in the proxy's contract, the same under both engines (node:http2's H2Exchange and the
 * relay's RelayExchange): counted in once and out once (the Stat, the drain timer, the response classes and
 * durations), at most one breaker slot, the revision timeouts' clocks, and its span. The exchanges carry the
 * frames; this holds what they must not count twice.
 */
export class StreamLedger {
  startedMs = 0
  lastActivityMs = 0
  /** Bytes or headers moved since the last sweep (the idle timeout's clock). */
  traffic = false
  /** The status answered (0 until a response starts). */
  status = 0
  readonly #ctx: ProxyContext
  readonly #exchanges: Set<object>
  readonly #self: object
  #settled = false
  #counted = false
  #proxied = false
  #holdsSlot = false
  #cancelWait: (() => void) | null = null
  #span: RequestSpan | null = null

  /** `self` joins `exchanges` (the owner's set, which drain waits on) while it is counted. */
  constructor (ctx: ProxyContext, exchanges: Set<object>, self: object) {
    this.#ctx = ctx
    this.#exchanges = exchanges
    this.#self = self
  }

  get settled (): boolean { return this.#settled }
  /** The traceparent the user container is sent (the proxy's span is its parent), or null when not traced. */
  get traceparent (): string | null { return this.#span === null ? null : this.#span.traceparent }

  /** The stream has arrived: the timeouts count from now. */
  arrived (nowMs: number): void {
    this.startedMs = nowMs
    this.lastActivityMs = nowMs
  }

  /** A request for the user container (not a probe): counted in the Stat, and traced when tracing is on. */
  countIn (proxied: boolean, span: () => RequestSpanStart): void {
    const ctx = this.#ctx
    ctx.drainer.lastRequestMs = this.startedMs
    this.#counted = true
    this.#proxied = proxied
    this.#exchanges.add(this.#self)
    ctx.stats.requestIn(this.startedMs, proxied)
    if (ctx.tracer !== null) this.#span = ctx.tracer.begin(span())
  }

  /**
   * Takes a breaker slot, or a place in its queue. `dispatch` runs once the slot is held (now, or when its turn
   * comes, unless the stream is settled or `gone()` by then). 'full': the caller answers 503 (counted here).
   */
  admit (dispatch: () => void, gone: () => boolean): Admission {
    const ctx = this.#ctx
    const cancel = admitStream(ctx, () => {
      this.#cancelWait = null
      if (this.#settled || gone()) return false
      this.#holdsSlot = true
      dispatch()
      return true
    })
    if (cancel === 'now') { this.#holdsSlot = ctx.breaker !== null; dispatch(); return 'now' }
    if (cancel === null) {
      // pkg/queue/handler.go: ErrRequestQueueFull becomes a 503 at once.
      ctx.counters.queueFull++
      return 'full'
    }
    this.#cancelWait = cancel
    return 'queued'
  }

  /** Stat out and breaker slot back, once. */
  settle (method: string, routeTag: () => string): void {
    if (this.#settled) return
    this.#settled = true
    this.#giveUpWait()
    const ctx = this.#ctx
    if (this.#holdsSlot) { this.#holdsSlot = false; ctx.breaker?.release() }
    if (!this.#counted) return
    this.#counted = false
    this.#exchanges.delete(this.#self)
    countStreamOut(ctx, { startedMs: this.startedMs, proxied: this.#proxied, status: this.status, method, routeTag: routeTag() })
    const span = this.#span
    if (span !== null) { this.#span = null; span.end(this.status) }
  }

  /**
   * The revision timeouts (serving pkg/http/handler/timeout.go), driven by the owner's sweep: true when one has
   * fired now (counted, and the queue place given up); the caller then answers 504, or aborts a started response.
   */
  timedOut (nowMs: number, resStarted: boolean): boolean {
    if (this.#settled) return false
    if (this.traffic) { this.traffic = false; this.lastActivityMs = nowMs }
    if (!revisionTimeoutFired(this.#ctx, this.startedMs, this.lastActivityMs, resStarted, nowMs)) return false
    this.#ctx.counters.timeouts++
    this.#giveUpWait()
    return true
  }

  #giveUpWait (): void {
    this.#cancelWait?.()
    this.#cancelWait = null
  }
}
