import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client'
import type { TraceRecord } from '../core/tracing/recentTraces.js'

/** What the dashboard and `iotless status` show: one picture of a running stack, built from its metrics. */
export interface StatusSnapshot {
  atMs: number
  /** Seconds the rates are measured over (the sampler's window; 0 on the first sample). */
  rateWindowS: number
  routes: RouteStatus[]
  unrouted: number
  rejected: Record<string, number>
  functions: FunctionStatus[]
  deadLetters: Array<{ route: string; code: string; count: number }>
  /** Invocations by route target and function: where work was placed. One tier (local) until placement lands. */
  placement: Array<{ target: string; function: string; invocations: number }>
  /** Multi-tier routes (routes[].targets): each tier's share of the decisions, by reason, and its latency predicted against measured. */
  tiers: TierStatus[]
  prefetch: PrefetchStatus[] | undefined
  traces: TraceRecord[]
}

export interface RouteStatus {
  route: string
  target: string | undefined
  function: string | undefined
  received: number
  ratePerS: number
  replies: number
  deadLetters: number
  retries: number
}

export interface Percentiles { count: number; p50: number | undefined; p95: number | undefined; p99: number | undefined }

export interface FunctionStatus {
  name: string
  warm: number
  /** From the local pool; undefined for functions that run elsewhere. */
  starting: number | undefined
  busy: number | undefined
  queued: number | undefined
  coldStarts: number
  invocations: Record<string, number>
  ratePerS: number
  /** Dispatch-to-answer seconds since start, from the histogram's buckets. */
  latency: Percentiles
  coldStartSeconds: Percentiles
}

export interface TierStatus {
  route: string
  tier: string
  /** Messages placed on this tier, failovers included, by reason (best, explore, ordered, failover). */
  decisions: Record<string, number>
  total: number
  /** Its share of the route's decisions, in [0, 1]. */
  share: number
  /** Seconds, of the runs that succeeded: the model's prediction at decision time and what was measured. */
  predicted: Percentiles
  measured: Percentiles
}

export interface PrefetchStatus {
  function: string
  /** Idle instances the policy last asked for, and when it asked. */
  wanted: number
  decidedAtMs: number
  /** Invocations the pool saw over the rate window, per minute. */
  arrivalsPerMinute: number
}

export interface PoolView { name: string; warm: number; starting: number; busy: number; queued: number }
export interface PrefetchView { function: string; wanted: number; decidedAtMs: number }

type Value = MetricValue<string> | MetricValueWithName<string>

function valuesOf (metrics: MetricObjectWithValues<Value>[], name: string): Value[] {
  return metrics.find((m) => m.name === name)?.values ?? []
}

function sumBy (metrics: MetricObjectWithValues<Value>[], name: string, label: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const v of valuesOf(metrics, name)) {
    const key = String(v.labels[label] ?? '')
    out.set(key, (out.get(key) ?? 0) + v.value)
  }
  return out
}

/**
 * The q-quantile of a cumulative histogram, interpolated inside its bucket as Prometheus' histogram_quantile
 * does. Buckets are [upper bound, cumulative count], ascending, the last +Inf. Undefined with no observations.
 */
export function histogramQuantile (q: number, buckets: Array<[number, number]>): number | undefined {
  const total = buckets.at(-1)?.[1] ?? 0
  if (total === 0) return undefined
  const rank = q * total
  let prevBound = 0
  let prevCount = 0
  for (const [bound, count] of buckets) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound // above the largest finite bound: report that bound
      if (count === prevCount) return bound
      return prevBound + (bound - prevBound) * (rank - prevCount) / (count - prevCount)
    }
    prevBound = bound
    prevCount = count
  }
  return prevBound
}

function percentilesBy (metrics: MetricObjectWithValues<Value>[], name: string, label: string | ((labels: Value['labels']) => string | undefined)): Map<string, Percentiles> {
  const byKey = new Map<string, Array<[number, number]>>()
  for (const v of valuesOf(metrics, name)) {
    if (!('metricName' in v) || v.metricName !== `${name}_bucket`) continue
    const key = typeof label === 'string' ? String(v.labels[label] ?? '') : label(v.labels)
    if (key === undefined) continue
    const le = v.labels.le
    const bound = le === '+Inf' ? Infinity : Number(le)
    const list = byKey.get(key) ?? []
    list.push([bound, v.value])
    byKey.set(key, list)
  }
  const out = new Map<string, Percentiles>()
  for (const [key, list] of byKey) {
    list.sort((a, b) => a[0] - b[0])
    out.set(key, { count: list.at(-1)?.[1] ?? 0, p50: histogramQuantile(0.5, list), p95: histogramQuantile(0.95, list), p99: histogramQuantile(0.99, list) })
  }
  return out
}

const NO_PERCENTILES: Percentiles = { count: 0, p50: undefined, p95: undefined, p99: undefined }

/** Counter totals the sampler keeps to turn totals into rates: route -> received, function -> invocations. */
export interface Totals { atMs: number; routes: Map<string, number>; functions: Map<string, number> }

export function totalsOf (metrics: MetricObjectWithValues<Value>[], atMs: number): Totals {
  return { atMs, routes: sumBy(metrics, 'iotless_messages_received_total', 'route'), functions: sumBy(metrics, 'iotless_invocations_total', 'function') }
}

function rate (now: Map<string, number>, then: Map<string, number> | undefined, key: string, seconds: number): number {
  if (then === undefined || seconds <= 0) return 0
  return Math.max(0, ((now.get(key) ?? 0) - (then.get(key) ?? 0)) / seconds)
}

export interface SnapshotInput {
  metrics: MetricObjectWithValues<Value>[]
  now: Totals
  /** The totals at the start of the rate window, if any. */
  before: Totals | undefined
  /** Route label -> [target, function], from the config. */
  routeTargets: ReadonlyMap<string, { target: string; function: string }>
  pools: PoolView[]
  prefetch: PrefetchView[] | undefined
  traces: TraceRecord[]
}

/** Builds the picture from a registry's getMetricsAsJSON(), the pool's live counts and the recent traces. */
export function buildSnapshot (input: SnapshotInput): StatusSnapshot {
  const { metrics, now, before } = input
  const seconds = before === undefined ? 0 : (now.atMs - before.atMs) / 1000
  const replies = sumBy(metrics, 'iotless_replies_published_total', 'route')
  const deadByRoute = sumBy(metrics, 'iotless_dead_letters_total', 'route')
  const retries = sumBy(metrics, 'iotless_retries_total', 'route')
  const routeNames = new Set([...input.routeTargets.keys(), ...now.routes.keys()])
  const routes: RouteStatus[] = [...routeNames].sort().map((route) => ({
    route,
    target: input.routeTargets.get(route)?.target,
    function: input.routeTargets.get(route)?.function,
    received: now.routes.get(route) ?? 0,
    ratePerS: rate(now.routes, before?.routes, route, seconds),
    replies: replies.get(route) ?? 0,
    deadLetters: deadByRoute.get(route) ?? 0,
    retries: retries.get(route) ?? 0
  }))

  const warm = sumBy(metrics, 'iotless_warm_instances', 'function')
  const cold = sumBy(metrics, 'iotless_cold_starts_total', 'function')
  const latency = percentilesBy(metrics, 'iotless_invocation_duration_seconds', 'function')
  const coldLatency = percentilesBy(metrics, 'iotless_cold_start_duration_seconds', 'function')
  const invocationsByFn = new Map<string, Record<string, number>>()
  for (const v of valuesOf(metrics, 'iotless_invocations_total')) {
    const fn = String(v.labels.function ?? '')
    const rec = invocationsByFn.get(fn) ?? {}
    const outcome = String(v.labels.outcome ?? '')
    rec[outcome] = (rec[outcome] ?? 0) + v.value
    invocationsByFn.set(fn, rec)
  }
  const pools = new Map(input.pools.map((p) => [p.name, p]))
  const fnNames = new Set([...pools.keys(), ...warm.keys(), ...invocationsByFn.keys(), ...[...input.routeTargets.values()].map((t) => t.function)])
  const functions: FunctionStatus[] = [...fnNames].sort().map((name) => {
    const pool = pools.get(name)
    return {
      name,
      warm: pool?.warm ?? warm.get(name) ?? 0,
      starting: pool?.starting,
      busy: pool?.busy,
      queued: pool?.queued,
      coldStarts: cold.get(name) ?? 0,
      invocations: invocationsByFn.get(name) ?? {},
      ratePerS: rate(now.functions, before?.functions, name, seconds),
      latency: latency.get(name) ?? NO_PERCENTILES,
      coldStartSeconds: coldLatency.get(name) ?? NO_PERCENTILES
    }
  })

  const deadLetters = valuesOf(metrics, 'iotless_dead_letters_total')
    .map((v) => ({ route: String(v.labels.route ?? ''), code: String(v.labels.code ?? ''), count: v.value }))
    .filter((d) => d.count > 0)
  const placementMap = new Map<string, { target: string; function: string; invocations: number }>()
  for (const t of input.routeTargets.values()) {
    const key = `${t.target}\u0000${t.function}`
    placementMap.set(key, placementMap.get(key) ?? { target: t.target, function: t.function, invocations: 0 })
  }
  for (const p of placementMap.values()) p.invocations = Object.values(invocationsByFn.get(p.function) ?? {}).reduce((a, b) => a + b, 0)

  // Multi-tier routes: decisions by tier and reason, and the predicted and measured latency of each tier.
  const tierKey = (l: Value['labels']): string => `${String(l.route ?? '')}\u0000${String(l.tier ?? '')}`
  const tierMap = new Map<string, TierStatus>()
  for (const v of valuesOf(metrics, 'iotless_placement_decisions_total')) {
    const key = tierKey(v.labels)
    const ts = tierMap.get(key) ?? { route: String(v.labels.route ?? ''), tier: String(v.labels.tier ?? ''), decisions: {}, total: 0, share: 0, predicted: NO_PERCENTILES, measured: NO_PERCENTILES }
    const reason = String(v.labels.reason ?? '')
    ts.decisions[reason] = (ts.decisions[reason] ?? 0) + v.value
    ts.total += v.value
    tierMap.set(key, ts)
  }
  const predicted = percentilesBy(metrics, 'iotless_placement_latency_seconds', (l) => l.kind === 'predicted' ? tierKey(l) : undefined)
  const measured = percentilesBy(metrics, 'iotless_placement_latency_seconds', (l) => l.kind === 'measured' ? tierKey(l) : undefined)
  const routeTotals = new Map<string, number>()
  for (const ts of tierMap.values()) routeTotals.set(ts.route, (routeTotals.get(ts.route) ?? 0) + ts.total)
  for (const [key, ts] of tierMap) {
    const all = routeTotals.get(ts.route) ?? 0
    ts.share = all === 0 ? 0 : ts.total / all
    ts.predicted = predicted.get(key) ?? NO_PERCENTILES
    ts.measured = measured.get(key) ?? NO_PERCENTILES
  }
  const tiers = [...tierMap.values()].sort((a, b) => a.route.localeCompare(b.route, 'en', { numeric: true }) || b.total - a.total || a.tier.localeCompare(b.tier))

  const prefetch = input.prefetch?.map((p) => ({
    function: p.function,
    wanted: p.wanted,
    decidedAtMs: p.decidedAtMs,
    arrivalsPerMinute: rate(now.functions, before?.functions, p.function, seconds) * 60
  }))

  return {
    atMs: now.atMs,
    rateWindowS: seconds,
    routes,
    unrouted: valuesOf(metrics, 'iotless_messages_unrouted_total').reduce((a, v) => a + v.value, 0),
    rejected: Object.fromEntries(sumBy(metrics, 'iotless_messages_rejected_total', 'reason')),
    functions,
    deadLetters,
    placement: [...placementMap.values()],
    tiers,
    prefetch,
    traces: input.traces
  }
}
