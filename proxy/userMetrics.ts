import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { Breaker } from '../core/breaker.js'
import type { ProxyCounters } from './proxyContext.js'
import type { RequestStats } from './requestStats.js'

/**
 * The user-metrics endpoint (:9091, Prometheus text), in its own prom-client Registry so nothing global
 * leaks in. Names follow what queue-proxy exports at HEAD (serving pkg/queue/request_metric.go:
 * kn.serving.invocation.duration and kn.serving.queue.depth, as the OTel Prometheus exporter spells them).
 * Counters are read from ProxyCounters at scrape time, so the hot path only bumps plain numbers.
 */
export interface UserMetrics {
  registry: Registry
  observeDurationMs: (ms: number, status: number) => void
}

export function createUserMetrics (opts: { counters: ProxyCounters; stats: RequestStats; breaker: Breaker | null; labels: Record<string, string> }): UserMetrics {
  const registry = new Registry()
  registry.setDefaultLabels(opts.labels)
  const duration = new Histogram({
    name: 'kn_serving_invocation_duration_seconds',
    help: 'Time from receiving a request to finishing its response, seconds (probes excluded).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry]
  })
  const { counters, stats, breaker } = opts
  new Gauge({
    name: 'kn_serving_queue_depth',
    help: 'Requests in the breaker, in flight plus waiting (with CONTAINER_CONCURRENCY=0: in flight).',
    registers: [registry],
    collect () { this.set(breaker === null ? stats.concurrency : breaker.inFlight + breaker.waiting) }
  })
  new Counter({
    name: 'iotless_proxy_responses_total',
    help: 'Responses to counted requests, by status class.',
    labelNames: ['code_class'],
    registers: [registry],
    collect () {
      this.reset()
      for (let i = 1; i <= 5; i++) this.inc({ code_class: `${i}xx` }, counters.responses[i] as number)
    }
  })
  new Counter({
    name: 'iotless_proxy_rejected_total',
    help: 'Requests the proxy answered itself, by reason.',
    labelNames: ['reason'],
    registers: [registry],
    collect () {
      this.reset()
      this.inc({ reason: 'queue_full' }, counters.queueFull)
      this.inc({ reason: 'timeout' }, counters.timeouts)
      this.inc({ reason: 'bad_gateway' }, counters.badGateway)
      this.inc({ reason: 'bad_request' }, counters.badRequest)
    }
  })
  new Counter({
    name: 'iotless_proxy_upgrades_total',
    help: 'Upgraded (WebSocket) connections tunnelled.',
    registers: [registry],
    collect () { this.reset(); this.inc(counters.upgrades) }
  })
  return {
    registry,
    observeDurationMs: (ms) => duration.observe(ms / 1000)
  }
}
