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
  observeDurationMs: (ms: number, status: number, method: string, routeTag: string, protocolVersion: string) => void
  /** The whole exposition (Prometheus text): the registry's metrics and the duration histogram. */
  metrics: () => Promise<string>
}

const DURATION_NAME = 'kn_serving_invocation_duration_seconds'
const DURATION_HELP = 'Time from receiving a request to finishing its response, seconds (probes excluded).'
const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
/**
 * otelhttp's server histogram, which the queue-proxy's handler chain records with the route tag added
 * (serving pkg/queue/routetag_handler.go; http.server.request.duration as the OTel Prometheus exporter
 * spells it), with OpenTelemetry's advisory buckets for it.
 */
const SERVER_DURATION_NAME = 'http_server_request_duration_seconds'
const SERVER_DURATION_HELP = 'Duration of HTTP server requests, seconds, by method, status, protocol version and Knative route tag (probes excluded).'
const SERVER_DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10]

/**
 * The request-duration histogram, kept as plain bucket counts so that observing is a few comparisons and
 * an increment (prom-client's Histogram.observe builds label objects and hashes them on every call), and
 * written out in the Prometheus text format at scrape time.
 */
export class DurationHistogram {
  readonly #name: string
  readonly #help: string
  readonly #bucketsS: readonly number[]
  readonly #boundsMs: number[]
  readonly #counts: Float64Array
  #sumMs = 0
  #count = 0

  constructor (opts: { name?: string; help?: string; bucketsS?: readonly number[] } = {}) {
    this.#name = opts.name ?? DURATION_NAME
    this.#help = opts.help ?? DURATION_HELP
    this.#bucketsS = opts.bucketsS ?? DURATION_BUCKETS_S
    this.#boundsMs = this.#bucketsS.map((b) => b * 1000)
    this.#counts = new Float64Array(this.#bucketsS.length + 1)
  }

  observe (ms: number): void {
    const bounds = this.#boundsMs
    let i = 0
    while (i < bounds.length && ms > (bounds[i] as number)) i++
    this.#counts[i] = (this.#counts[i] as number) + 1
    this.#sumMs += ms
    this.#count++
  }

  /** The series lines only (no HELP/TYPE), for a histogram with several label sets. */
  series (labels: Record<string, string>): string[] {
    const name = this.#name
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
    const base = Object.entries(labels).map(([k, v]) => `${k}="${esc(v)}"`).join(',')
    const withLe = (le: string): string => `{le="${le}"${base === '' ? '' : ',' + base}}`
    const plain = base === '' ? '' : `{${base}}`
    const out: string[] = []
    let cumulative = 0
    this.#bucketsS.forEach((b, i) => {
      cumulative += this.#counts[i] as number
      out.push(`${name}_bucket${withLe(String(b))} ${cumulative}`)
    })
    out.push(`${name}_bucket${withLe('+Inf')} ${this.#count}`)
    out.push(`${name}_sum${plain} ${this.#sumMs / 1000}`)
    out.push(`${name}_count${plain} ${this.#count}`)
    return out
  }

  /** HELP and TYPE lines. */
  header (): string[] {
    return [`# HELP ${this.#name} ${this.#help}`, `# TYPE ${this.#name} histogram`]
  }

  text (labels: Record<string, string>): string {
    return [...this.header(), ...this.series(labels)].join('\n') + '\n'
  }
}

/**
 * The route-tagged server histogram: one DurationHistogram per (method, status, protocol version, route tag),
 * found by one string key per observation.
 */
export class ServerDurations {
  readonly #byKey = new Map<string, { h: DurationHistogram; labels: Record<string, string> }>()
  /** More label sets than this (a client inventing methods or tags) fold into one "_OTHER" set, as otelhttp folds unknown methods. */
  readonly #maxSeries: number
  // The last label set observed and its histogram: consecutive requests almost always share one, and
  // comparing four values is cheaper than building and hashing a key string per request.
  #lastStatus = -1
  #lastMethod = ''
  #lastRouteTag = ''
  #lastProtocol = ''
  #last: DurationHistogram | null = null

  constructor (maxSeries = 1000) { this.#maxSeries = maxSeries }

  observe (ms: number, status: number, method: string, routeTag: string, protocolVersion: string): void {
    const last = this.#last
    if (last !== null && status === this.#lastStatus && method === this.#lastMethod && routeTag === this.#lastRouteTag && protocolVersion === this.#lastProtocol) {
      last.observe(ms)
      return
    }
    const key = method + ' ' + status + ' ' + protocolVersion + ' ' + routeTag
    let e = this.#byKey.get(key)
    if (e === undefined) {
      const over = this.#byKey.size >= this.#maxSeries
      const labels = over
        ? { http_request_method: '_OTHER', http_response_status_code: '', network_protocol_version: '', kn_route_tag: '' }
        : { http_request_method: method, http_response_status_code: status === 0 ? '' : String(status), network_protocol_version: protocolVersion, kn_route_tag: routeTag }
      const k = over ? '_OTHER' : key
      e = this.#byKey.get(k)
      if (e === undefined) {
        e = { h: new DurationHistogram({ name: SERVER_DURATION_NAME, help: SERVER_DURATION_HELP, bucketsS: SERVER_DURATION_BUCKETS_S }), labels }
        this.#byKey.set(k, e)
      }
    }
    this.#last = e.h
    this.#lastStatus = status
    this.#lastMethod = method
    this.#lastRouteTag = routeTag
    this.#lastProtocol = protocolVersion
    e.h.observe(ms)
  }

  text (labels: Record<string, string>): string {
    if (this.#byKey.size === 0) return ''
    const first = this.#byKey.values().next().value as { h: DurationHistogram }
    const out = first.h.header()
    for (const e of this.#byKey.values()) out.push(...e.h.series({ ...e.labels, ...labels }))
    return out.join('\n') + '\n'
  }
}

/**
 * `batchAccepted`: how many of counters.connectionsAccepted the native helper took from the accept queue
 * (multiAccept.ts) rather than the event loop, read at scrape time; absent, none.
 */
export function createUserMetrics (opts: { counters: ProxyCounters; stats: RequestStats; breaker: Breaker | null; labels: Record<string, string>; batchAccepted?: () => number }): UserMetrics {
  const registry = new Registry()
  registry.setDefaultLabels(opts.labels)
  const duration = new DurationHistogram()
  const server = new ServerDurations()
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
  const batchAccepted = opts.batchAccepted ?? (() => 0)
  new Counter({
    name: 'iotless_proxy_connections_accepted_total',
    help: 'Connections accepted on the serving ports, by what accepted them: the event loop (one per turn, as Node does) or the batch helper (the rest already queued).',
    labelNames: ['accepted_by'],
    registers: [registry],
    collect () {
      this.reset()
      const batch = batchAccepted()
      this.inc({ accepted_by: 'event_loop' }, counters.connectionsAccepted - batch)
      this.inc({ accepted_by: 'batch' }, batch)
    }
  })
  return {
    registry,
    observeDurationMs: (ms, status, method, routeTag, protocolVersion) => {
      duration.observe(ms)
      server.observe(ms, status, method, routeTag, protocolVersion)
    },
    metrics: async () => (await registry.metrics()) + duration.text(opts.labels) + server.text(opts.labels)
  }
}
