import type { Clock } from '../core/clock.js'
import type { Breaker } from '../core/breaker.js'
import type { RequestStats } from './requestStats.js'
import type { UpstreamPool } from './upstreamPool.js'
import type { Drainer } from './drainer.js'
import type { RequestTracer } from '../core/tracing/requestTracer.js'

/** Plain counters the hot path bumps; the user-metrics registry reads them at scrape time. */
export class ProxyCounters {
  /** Responses by status class, index = status / 100 (1..5). */
  readonly responses = new Float64Array(6)
  queueFull = 0
  timeouts = 0
  badGateway = 0
  badRequest = 0
  upgrades = 0
  retries = 0
  /** Exchanges cancelled because the client went away (FIN or reset) before its answer. */
  clientGone = 0
  /** Connections closed because no complete request head came within the header timeout. */
  headerTimeouts = 0
  /** Requests written to an upstream connection (retries included once more). */
  forwarded = 0
  /** Connections accepted on the serving ports (plain and TLS, whatever protocol they turn out to speak). */
  connectionsAccepted = 0
}

/** What every client connection shares; built once by QueueServer. */
export interface ProxyContext {
  readonly clock: Clock
  readonly stats: RequestStats
  /** null when CONTAINER_CONCURRENCY is 0: Knative builds no breaker then. */
  readonly breaker: Breaker | null
  readonly pool: UpstreamPool
  readonly drainer: Drainer
  readonly prober: { probe (): Promise<boolean> }
  readonly totalTimeoutMs: number
  readonly responseStartTimeoutMs: number
  readonly idleTimeoutMs: number
  readonly maxHeaderBytes: number
  readonly headerTimeoutMs: number
  /** An idle keep-alive client connection is closed after this; 0 = never. */
  readonly keepAliveIdleMs: number
  readonly counters: ProxyCounters
  /**
   * Called once per counted request with its duration, status (0: none was sent), method, route tag
   * (routeTag.ts) and protocol version ('1.1', '1.0', '2'); null to skip.
   */
  readonly observeDurationMs: ((ms: number, status: number, method: string, routeTag: string, protocolVersion: string) => void) | null
  /** A span per counted request when tracing is on; null (the default) costs nothing. */
  readonly tracer: RequestTracer | null
  /** Set when the server is shutting down: every response closes its connection. */
  closing: boolean
}
