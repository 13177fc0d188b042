import { Counter, Gauge, Registry } from 'prom-client'
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
  /** The whole exposition (Prometheus text): the registry's metrics and the duration histogram. */
  metrics: () => Promise<string>
}

const DURATION_NAME = 'kn_serving_invocation_duration_seconds'
const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/**
 * The request-duration histogram, kept as plain bucket counts so that observing is a few comparisons and
 * an increment (prom-client's Histogram.observe builds label objects and hashes them on every call), and
 * written out in the Prometheus text format at scrape time.
 */
export class DurationHistogram {
  readonly #boundsMs = DURATION_BUCKETS_S.map((b) => b * 1000)
  readonly #counts = new Float64Array(DURATION_BUCKETS_S.length + 1)
  #sumMs = 0
  #count = 0

  observe (ms: number): void {
    const bounds = this.#boundsMs
    let i = 0
    while (i < bounds.length && ms > (bounds[i] as number)) i++
    this.#counts[i] = (this.#counts[i] as number) + 1
    this.#sumMs += ms
    this.#count++
  }

  text (labels: Record<string, string>): string {
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    const base = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',')
    const withLe = (le: string): string => `{le="${le}"${base === '' ? '' : ',' + base}}`
    const plain = base === '' ? '' : `{${base}}`
    const out = [
      `# HELP ${DURATION_NAME} Time from receiving a request to finishing its response, seconds (probes excluded).`,
      `# TYPE ${DURATION_NAME} histogram`
    ]
    let cumulative = 0
    DURATION_BUCKETS_S.forEach((b, i) => {
      cumulative += this.#counts[i] as number
      out.push(`${DURATION_NAME}_bucket${withLe(String(b))} ${cumulative}`)
    })
    out.push(`${DURATION_NAME}_bucket${withLe('+Inf')} ${this.#count}`)
    out.push(`${DURATION_NAME}_sum${plain} ${this.#sumMs / 1000}`)
    out.push(`${DURATION_NAME}_count${plain} ${this.#count}`)
    return out.join('\n') + '\n'
  }
}

export function createUserMetrics (opts: { counters: ProxyCounters; stats: RequestStats; breaker: Breaker | null; labels: Record<string, string> }): UserMetrics {
  const registry = new Registry()
  registry.setDefaultLabels(opts.labels)
  const duration = new DurationHistogram()
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
    observeDurationMs: (ms) => duration.observe(ms),
    metrics: async () => (await registry.metrics()) + duration.text(opts.labels)
  }
}
