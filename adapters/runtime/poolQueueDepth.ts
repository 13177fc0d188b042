import type { RouteConfig } from '../../core/config/schema.js'

/**
 * How many invocations the adapter can have waiting on each local function at once: each route on `local`
 * holds at most its maxInFlight, and all routes together at most adapter.maxInFlight.
 */
export function localDemand (routes: ReadonlyArray<Pick<RouteConfig, 'target' | 'function' | 'maxInFlight'>>, adapterMaxInFlight: number): Map<string, number> {
  const demand = new Map<string, number>()
  for (const r of routes) {
    if (r.target !== 'local') continue
    demand.set(r.function, Math.min(adapterMaxInFlight, (demand.get(r.function) ?? 0) + Math.min(r.maxInFlight, adapterMaxInFlight)))
  }
  return demand
}

/**
 * The pool's queue: Knative's 10 x concurrency x maxScale, or more when the routes can send more, so that
 * a burst the adapter admits is always held in the queue, never refused BREAKER_QUEUE_FULL and
 * dead-lettered. The adapter bounds it (maxInFlight), so the queue never needs to be unbounded.
 */
export function poolQueueDepth (fn: { concurrency: number; maxScale: number }, demand: number): number {
  const slots = fn.concurrency * fn.maxScale
  return Math.max(10 * slots, demand - slots)
}
