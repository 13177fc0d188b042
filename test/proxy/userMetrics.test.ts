import t from 'tap'
import { Histogram, Registry } from 'prom-client'
import { DurationHistogram } from '../../proxy/userMetrics.js'

/** Sample lines (name{labels} value), label order normalised, comments dropped. */
function samples (text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const m = /^(\w+)(?:\{(.*)\})? (.+)$/.exec(l)
    if (m === null) return l
    const labels = (m[2] ?? '').split(/,(?=\w+=")/).filter((x) => x !== '').sort().join(',')
    return `${m[1]}{${labels}} ${Number(m[3])}`
  }).sort()
}

t.test('the duration histogram writes what prom-client\'s Histogram writes for the same observations', async (t) => {
  const labels = { destination_revision: 'hello-00001', odd: 'a"b\\c' }
  const registry = new Registry()
  registry.setDefaultLabels(labels)
  const reference = new Histogram({
    name: 'kn_serving_invocation_duration_seconds',
    help: 'Time from receiving a request to finishing its response, seconds (probes excluded).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry]
  })
  const ours = new DurationHistogram()
  for (const ms of [0, 1, 5, 5.5, 10, 99, 100, 101, 2500, 59_999, 60_000, 61_000, 3]) {
    reference.observe(ms / 1000)
    ours.observe(ms)
  }
  const got = samples(ours.text(labels))
  const want = samples(await registry.metrics())
  t.equal(got.length, 16, '14 buckets, sum and count')
  t.same(got.filter((l) => !l.includes('_sum')), want.filter((l) => !l.includes('_sum')))
  const sum = (xs: string[]): number => Number(xs.find((l) => l.includes('_sum'))?.split(' ').pop())
  t.ok(Math.abs(sum(got) - sum(want)) < 1e-9, 'same sum')
})

t.test('the route-tagged server histogram: one series set per method, status, protocol and route tag', async (t) => {
  const { ServerDurations } = await import('../../proxy/userMetrics.js')
  const d = new ServerDurations(2)
  d.observe(3, 200, 'GET', 'kn:disabled', '1.1')
  d.observe(30, 200, 'GET', 'kn:disabled', '1.1')
  d.observe(30, 503, 'POST', 'blue', '2')
  const text = d.text({ destination_revision: 'r' })
  t.equal(text.split('\n').filter((l) => l.startsWith('# TYPE')).length, 1, 'one TYPE line')
  t.match(text, 'http_server_request_duration_seconds_count{http_request_method="GET",http_response_status_code="200",network_protocol_version="1.1",kn_route_tag="kn:disabled",destination_revision="r"} 2')
  t.match(text, 'http_server_request_duration_seconds_bucket{le="0.005",http_request_method="GET",http_response_status_code="200",network_protocol_version="1.1",kn_route_tag="kn:disabled",destination_revision="r"} 1')
  t.match(text, 'kn_route_tag="blue"')
  // Past the bound, new label sets fold into one: a client inventing tags cannot grow the exposition.
  d.observe(1, 200, 'GET', 'x1', '1.1')
  d.observe(1, 200, 'GET', 'x2', '1.1')
  const after = d.text({})
  t.notMatch(after, 'x1')
  t.match(after, 'http_server_request_duration_seconds_count{http_request_method="_OTHER",http_response_status_code="",network_protocol_version="",kn_route_tag=""} 2')
  t.equal(new ServerDurations().text({}), '', 'nothing before the first request')
  // Interleaved label sets each keep their own count (the last set observed is cached).
  const i = new ServerDurations()
  i.observe(1, 200, 'GET', 'a', '1.1')
  i.observe(1, 200, 'GET', 'b', '1.1')
  i.observe(1, 200, 'GET', 'a', '1.1')
  i.observe(1, 404, 'GET', 'a', '1.1')
  i.observe(1, 200, 'GET', 'a', '2')
  i.observe(1, 200, 'HEAD', 'a', '1.1')
  const it = i.text({})
  const count = (method: string, status: string, proto: string, tag: string): string =>
    `http_server_request_duration_seconds_count{http_request_method="${method}",http_response_status_code="${status}",network_protocol_version="${proto}",kn_route_tag="${tag}"}`
  t.match(it, count('GET', '200', '1.1', 'a') + ' 2')
  t.match(it, count('GET', '200', '1.1', 'b') + ' 1')
  t.match(it, count('GET', '404', '1.1', 'a') + ' 1')
  t.match(it, count('GET', '200', '2', 'a') + ' 1')
  t.match(it, count('HEAD', '200', '1.1', 'a') + ' 1')
})
