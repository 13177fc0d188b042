import t from 'tap'
import { Registry } from 'prom-client'
import { createMetrics } from '../../core/metrics.js'
import { buildSnapshot, histogramQuantile, totalsOf } from '../../dashboard/statusSnapshot.js'

t.test('histogramQuantile interpolates inside the bucket, as histogram_quantile does', async (t) => {
  // 10 observations: 4 under 0.1, 6 more under 1.
  const b: Array<[number, number]> = [[0.1, 4], [1, 10], [Infinity, 10]]
  t.equal(histogramQuantile(0.5, b), 0.1 + 0.9 * (5 - 4) / 6)
  t.equal(histogramQuantile(0.2, b), 0.05)
  t.equal(histogramQuantile(0.5, [[0.1, 0], [Infinity, 0]]), undefined, 'no observations')
  t.equal(histogramQuantile(0.99, [[0.1, 1], [Infinity, 5]]), 0.1, 'above the largest bound: that bound')
})

t.test('a snapshot of routes, functions, dead letters, rates and placement from real metrics', async (t) => {
  const registry = new Registry()
  const m = createMetrics(registry, { defaultMetrics: false })
  const routeTargets = new Map([['routes[0]', { target: 'local', function: 'echo' }], ['routes[1]', { target: 'knative', function: 'far' }]])
  const before = totalsOf(await registry.getMetricsAsJSON(), 1000)
  m.messagesReceived.inc({ route: 'routes[0]' }, 20)
  m.repliesPublished.inc({ route: 'routes[0]' }, 18)
  m.deadLetters.inc({ route: 'routes[0]', code: 'FUNCTION_ERROR' }, 2)
  m.invocations.inc({ function: 'echo', outcome: 'ok' }, 18)
  m.invocations.inc({ function: 'echo', outcome: 'error' }, 2)
  for (let k = 0; k < 20; k++) m.invocationDuration.observe({ function: 'echo' }, 0.004)
  m.coldStarts.inc({ function: 'echo' })
  m.warmInstances.set({ function: 'echo' }, 1)
  m.messagesUnrouted.inc(3)
  const metrics = await registry.getMetricsAsJSON()
  const snap = buildSnapshot({
    metrics,
    now: totalsOf(metrics, 11_000),
    before,
    routeTargets,
    pools: [{ name: 'echo', warm: 2, starting: 1, busy: 1, queued: 0 }],
    prefetch: [{ function: 'echo', wanted: 3, decidedAtMs: 500 }],
    traces: []
  })
  t.equal(snap.rateWindowS, 10)
  const r0 = snap.routes.find((r) => r.route === 'routes[0]')
  t.match(r0, { received: 20, ratePerS: 2, replies: 18, deadLetters: 2, target: 'local', function: 'echo' })
  t.match(snap.routes.find((r) => r.route === 'routes[1]'), { received: 0, ratePerS: 0, target: 'knative' })
  const echo = snap.functions.find((f) => f.name === 'echo')
  t.match(echo, { warm: 2, starting: 1, busy: 1, queued: 0, coldStarts: 1, invocations: { ok: 18, error: 2 }, ratePerS: 2 })
  t.ok((echo?.latency.p50 ?? 0) > 0.0025 && (echo?.latency.p50 ?? 1) <= 0.005, `p50 in the 2.5-5 ms bucket (${echo?.latency.p50})`)
  t.equal(echo?.latency.count, 20)
  const far = snap.functions.find((f) => f.name === 'far')
  t.match(far, { warm: 0, starting: undefined, busy: undefined }, 'a remote function has no pool counts')
  t.same(snap.deadLetters, [{ route: 'routes[0]', code: 'FUNCTION_ERROR', count: 2 }])
  t.equal(snap.unrouted, 3)
  t.same(snap.placement, [{ target: 'local', function: 'echo', invocations: 20 }, { target: 'knative', function: 'far', invocations: 0 }])
  t.same(snap.prefetch, [{ function: 'echo', wanted: 3, decidedAtMs: 500, arrivalsPerMinute: 120 }])
})

t.test('the first sample has no window and reports no rate', async (t) => {
  const registry = new Registry()
  const m = createMetrics(registry, { defaultMetrics: false })
  m.messagesReceived.inc({ route: 'routes[0]' }, 5)
  const metrics = await registry.getMetricsAsJSON()
  const snap = buildSnapshot({ metrics, now: totalsOf(metrics, 0), before: undefined, routeTargets: new Map(), pools: [], prefetch: undefined, traces: [] })
  t.equal(snap.rateWindowS, 0)
  t.match(snap.routes, [{ route: 'routes[0]', received: 5, ratePerS: 0 }])
  t.equal(snap.prefetch, undefined)
})

t.test('multi-tier routes: each tier\'s share of the decisions, by reason, predicted against measured', async (t) => {
  const registry = new Registry()
  const m = createMetrics(registry, { defaultMetrics: false })
  m.placementDecisions.inc({ route: 'routes[2]', tier: 'edge', reason: 'best' }, 6)
  m.placementDecisions.inc({ route: 'routes[2]', tier: 'edge', reason: 'explore' }, 1)
  m.placementDecisions.inc({ route: 'routes[2]', tier: 'cloud', reason: 'failover' }, 3)
  for (let k = 0; k < 4; k++) m.placementLatency.observe({ route: 'routes[2]', tier: 'edge', kind: 'predicted' }, 0.004)
  for (let k = 0; k < 4; k++) m.placementLatency.observe({ route: 'routes[2]', tier: 'edge', kind: 'measured' }, 0.02)
  const metrics = await registry.getMetricsAsJSON()
  const snap = buildSnapshot({ metrics, now: totalsOf(metrics, 0), before: undefined, routeTargets: new Map(), pools: [], prefetch: undefined, traces: [] })
  t.same(snap.tiers.map((x) => [x.route, x.tier, x.total, x.share]), [['routes[2]', 'edge', 7, 0.7], ['routes[2]', 'cloud', 3, 0.3]], 'the busiest tier first')
  t.same(snap.tiers[0]?.decisions, { best: 6, explore: 1 })
  const edge = snap.tiers[0]
  t.ok((edge?.predicted.p50 ?? 0) > 0.0025 && (edge?.predicted.p50 ?? 1) <= 0.005, `predicted p50 in the 2.5-5 ms bucket (${edge?.predicted.p50})`)
  t.ok((edge?.measured.p50 ?? 0) > 0.01 && (edge?.measured.p50 ?? 1) <= 0.025, `measured p50 in the 10-25 ms bucket (${edge?.measured.p50})`)
  t.equal(snap.tiers[1]?.measured.count, 0, 'no successful run on cloud recorded')
})
