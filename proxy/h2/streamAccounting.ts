import type { ProxyContext } from '../proxyContext.js'

/**
 * What both HTTP/2 engines (node:http2's H2Exchange and the relay's RelayExchange) do the same way for a stream,
 * whatever carries its frames: the breaker's admission, the revision timeouts, and the accounting when it ends.
 */

/**
 * Takes a breaker slot for a stream. 'now': a slot was free (or there is no breaker: CONTAINER_CONCURRENCY=0).
 * A function: the stream waits in the queue, and calling it gives up its place; `take` runs when its turn comes
 * and returns false when the stream is gone by then (its slot goes straight back). null: the queue is full
 * (pkg/queue/handler.go: ErrRequestQueueFull, a 503 at once).
 */
export function admitStream (ctx: ProxyContext, take: () => boolean): 'now' | (() => void) | null {
  const br = ctx.breaker
  if (br === null || br.tryAcquire()) return 'now'
  if (br.waiting >= br.queueDepth) return null
  return br.enqueue(() => { if (!take()) br.release() })
}

/** Whether one of the revision timeouts (serving pkg/http/handler/timeout.go) has fired for a stream. */
export function revisionTimeoutFired (ctx: ProxyContext, startedMs: number, lastActivityMs: number, resStarted: boolean, nowMs: number): boolean {
  return (ctx.totalTimeoutMs > 0 && nowMs - startedMs >= ctx.totalTimeoutMs) ||
    (ctx.responseStartTimeoutMs > 0 && !resStarted && nowMs - startedMs >= ctx.responseStartTimeoutMs) ||
    (ctx.idleTimeoutMs > 0 && nowMs - lastActivityMs >= ctx.idleTimeoutMs)
}

/** A counted stream has ended: the Stat's request out, its response class, its duration by route tag. */
export function countStreamOut (ctx: ProxyContext, s: { startedMs: number; proxied: boolean; status: number; method: string; routeTag: string }): void {
  const now = ctx.clock.now()
  ctx.stats.requestOut(now, s.proxied)
  if (s.status > 0) {
    const r = ctx.counters.responses
    const i = Math.min(5, (s.status / 100) | 0)
    r[i] = (r[i] as number) + 1
  }
  if (ctx.observeDurationMs !== null) ctx.observeDurationMs(now - s.startedMs, s.status, s.method, s.routeTag, '2')
}
