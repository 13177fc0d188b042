// k8s/grafana/iotless-dashboard.json may only query metrics the code exports: every PromQL expression's metric
// names are compared with the names a registry holds after createMetrics (docs/metrics.md lists the same) and
// the proxy's user-metrics registry (createUserMetrics, its port 9091).
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Registry } from 'prom-client'
import { parseAllDocuments } from 'yaml'
import { createMetrics } from '../../core/metrics.js'
import { ProxyCounters } from '../../proxy/proxyContext.js'
import { RequestStats } from '../../proxy/requestStats.js'
import { createUserMetrics } from '../../proxy/userMetrics.js'
import { k8sDir } from './manifests.js'

interface Panel { title: string; targets?: Array<{ expr: string }> }
const file = join(k8sDir, 'grafana', 'iotless-dashboard.json')
const dashboard = JSON.parse(readFileSync(file, 'utf8')) as { panels: Panel[] }

const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan'])
/** Aggregation operators: `sum by (x) (...)` puts the grouping between the name and its parenthesis. */
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio'])

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or Grafana variables. */
function metricNames (expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\[[^\]]*\]/g, '') // ranges ([5m], [$__rate_interval])
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1') // grouping labels
    .replace(/\$\w+/g, '') // Grafana variables
    .replace(/(?<![\w:])\d[\d.]*(e[+-]?\d+)?/gi, '0') // numbers (1e3)
  const out: string[] = []
  for (const m of stripped.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = m[1] as string
    if (m[2] !== undefined || KEYWORDS.has(name.toLowerCase()) || AGGREGATIONS.has(name)) continue
    out.push(name)
  }
  return out
}

/** Series names the code exports: each metric's name, and a histogram's _bucket, _sum and _count. */
async function exportedSeries (): Promise<Set<string>> {
  const registry = new Registry()
  createMetrics(registry)
  const proxy = createUserMetrics({ counters: new ProxyCounters(), stats: new RequestStats(0), breaker: null, labels: {} })
  const names = new Set<string>()
  for (const m of [...await registry.getMetricsAsJSON(), ...await proxy.registry.getMetricsAsJSON()]) {
    names.add(m.name)
    if (String(m.type) === 'histogram' || String(m.type) === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m.name + s)
  }
  return names
}

t.test('the name parser finds metric names and only them', async (t) => {
  t.same(metricNames('histogram_quantile(0.95, sum by (le, function) (rate(iotless_x_bucket{route=~"a|b"}[$__rate_interval])))'), ['iotless_x_bucket'])
  t.same(metricNames('sum(rate(a_total[5m])) / on (pod) group_left sum(b) * 60 > bool 1e3'), ['a_total', 'b'])
  t.same(metricNames('max by (function, provider) (iotless_function_execution_provider) or vector(0)'), ['iotless_function_execution_provider'])
})

t.test('every query of the Grafana dashboard names a metric the code exports', async (t) => {
  const exported = await exportedSeries()
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((q) => ({ panel: p.title, expr: q.expr })))
  t.ok(targets.length >= 15, `${targets.length} queries`)
  const unknown: string[] = []
  const used = new Set<string>()
  for (const q of targets) {
    const names = metricNames(q.expr)
    if (names.length === 0) unknown.push(`${q.panel}: no metric in ${q.expr}`)
    for (const n of names) {
      used.add(n.replace(/_(bucket|sum|count)$/, ''))
      if (!exported.has(n)) unknown.push(`${q.panel}: ${n}`)
    }
  }
  t.same(unknown, [], 'no query names a metric the code does not export')
  // And the other way round: every iotless metric of core/metrics.ts and of the proxy has a panel (the
  // proxy's Knative-named ones, kn_serving_* beside the duration histogram, are Knative's own dashboards' to draw).
  const own = [...exported].filter((n) => !/_(bucket|sum|count)$/.test(n) && n.startsWith('iotless_') && !n.startsWith('iotless_process_') && !n.startsWith('iotless_nodejs_'))
  t.same(own.filter((n) => !used.has(n)), [], 'every adapter, pool and proxy metric is on the dashboard')
  t.ok(own.includes('iotless_proxy_connections_accepted_total'), 'the proxy registry was read')
})

t.test('a made-up metric name is caught', async (t) => {
  const exported = await exportedSeries()
  t.notOk(exported.has('iotless_messages_recieved_total'), 'a typo is not exported')
  t.same(metricNames('rate(iotless_messages_recieved_total[1m])').filter((n) => !exported.has(n)), ['iotless_messages_recieved_total'])
})

t.test('kustomize renders the dashboard as a ConfigMap the Grafana sidecar picks up', async (t) => {
  const yaml = execFileSync('kubectl', ['kustomize', join(k8sDir, 'grafana')], { encoding: 'utf8' })
  const docs = parseAllDocuments(yaml).map((d) => d.toJS() as { kind: string; metadata: { name: string; namespace: string; labels: Record<string, string> }; data: Record<string, string> })
  t.equal(docs.length, 1)
  const cm = docs[0]
  t.equal(cm?.kind, 'ConfigMap')
  t.equal(cm?.metadata.namespace, 'iotless')
  t.equal(cm?.metadata.labels.grafana_dashboard, '1')
  t.same(JSON.parse(cm?.data['iotless-dashboard.json'] ?? '{}'), dashboard, 'the JSON file, unchanged')
})
