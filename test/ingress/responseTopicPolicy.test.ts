import t from 'tap'
import { ResponseTopicPolicy } from '../../adapters/ingress/responseTopicPolicy.js'
import { checkIngress } from '../../adapters/ingress/checkIngress.js'
import { checkRoutes, RouteTable } from '../../adapters/ingress/routeTable.js'
import { filtersOverlap, templateAsFilter } from '../../adapters/ingress/topicPattern.js'
import { configSchema, routeSchema, type RouteConfig } from '../../core/config/schema.js'

function route (topic: string, extra: Partial<RouteConfig> = {}): RouteConfig {
  return routeSchema.parse({ topic, function: 'f', ...extra })
}

t.test('filtersOverlap: some topic matches both', async (t) => {
  const yes: Array<[string, string]> = [
    ['a/b', 'a/b'], ['a/+', 'a/b'], ['a/#', 'a'], ['#', 'x/y/z'], ['a/+/c', 'a/b/+'], ['+/+', 'a/#'], ['a/{dev}', 'a/x'], ['$SYS/x', '$SYS/#']
  ]
  const no: Array<[string, string]> = [
    ['a/b', 'a/c'], ['a/+', 'a/b/c'], ['a/+', 'b/#'], ['#', '$SYS/x'], ['+/x', '$SYS/x'], ['a/b/c', 'a/b'], ['echo-replies', 'echo/#']
  ]
  for (const [x, y] of yes) { t.ok(filtersOverlap(x, y), `${x} ~ ${y}`); t.ok(filtersOverlap(y, x), `${y} ~ ${x}`) }
  for (const [x, y] of no) { t.notOk(filtersOverlap(x, y), `${x} !~ ${y}`); t.notOk(filtersOverlap(y, x), `${y} !~ ${x}`) }
  t.equal(templateAsFilter('alerts/{node}/x'), 'alerts/+/x')
})

t.test('response topics: only what the route allows, never an input or the dead-letter topic', async (t) => {
  const routes = new RouteTable([
    route('devices/+/up', { responseTopics: ['devices/+/down', 'devices/#'] }),
    route('cmd/{dev}', { deadLetter: 'cmd-dlq/{dev}' }),
    route('$share/g/shared/#')
  ])
  const policy = new ResponseTopicPolicy(routes, 'iotless/dead-letter')
  const r0 = routes.routes[0]
  const r1 = routes.routes[1]
  if (r0 === undefined || r1 === undefined) throw new Error('no routes')
  t.equal(policy.refusal(r0, 'devices/7/down'), undefined, 'allowed')
  t.match(policy.refusal(r0, 'devices/7/up'), /is an input of a route/, 'its own input, though devices/# allows it')
  t.match(policy.refusal(r0, 'cmd/7'), /is an input of a route/, 'another route\'s input')
  t.match(policy.refusal(r0, 'shared/x'), /is an input of a route/, 'an input under $share')
  t.match(policy.refusal(r0, 'iotless/dead-letter'), /dead-letter topic/)
  t.match(policy.refusal(r0, 'cmd-dlq/7'), /dead-letter topic/, 'a route\'s own dead-letter template')
  t.match(policy.refusal(r0, '$SYS/x'), /system topic/)
  t.match(policy.refusal(r0, 'other/7'), /matches none of routes\[0\]\.responseTopics \(devices\/\+\/down, devices\/#\)/)
  t.match(policy.refusal(r1, 'anywhere'), /the route allows none \(set routes\[1\]\.responseTopics\)/, 'no list: none allowed')
  t.match(policy.refusal(r0, 'devices/+/down'), /wildcards/, 'not a topic name')
})

t.test('checkRoutes: a reply that matches its own topic is a config error at routes[i].reply', async (t) => {
  t.match(checkRoutes([route('sensors/{node}/reading', { reply: 'sensors/{node}/reading' })]), [{ path: ['routes', 0, 'reply'], message: /matches the route's own topic/ }])
  t.match(checkRoutes([route('sensors/#', { reply: 'sensors/alerts/{x}' })]), [{ path: ['routes', 0, 'reply'] }], 'matches, not only equals')
  t.same(checkRoutes([route('sensors/{node}/reading', { reply: 'alerts/{node}' })]), [])
})

t.test('checkRoutes: responseTopics must be filters outside every input and the dead-letter topic', async (t) => {
  t.same(checkRoutes([route('devices/+/up', { responseTopics: ['devices/+/down'] })], { deadLetterTopic: 'dlq' }), [])
  t.match(checkRoutes([route('devices/#', { responseTopics: ['devices/+/down'] })]), [{ path: ['routes', 0, 'responseTopics', 0], message: /overlaps the input filter "devices\/#"/ }])
  t.match(checkRoutes([route('a/+', { responseTopics: ['ok/x', 'dlq/#'] })], { deadLetterTopic: 'dlq/{x}' }), [{ path: ['routes', 0, 'responseTopics', 1], message: /dead-letter topic/ }])
  t.match(checkRoutes([route('a/+', { responseTopics: ['x/{dev}'] })]), [{ path: ['routes', 0, 'responseTopics', 0], message: /\+ and #/ }])
  t.match(checkRoutes([route('a/+', { responseTopics: ['x/#/y'] })]), [{ path: ['routes', 0, 'responseTopics', 0], message: /must be the last level/ }])
})

t.test('checkIngress: adapter.maxUnacked below adapter.maxInFlight is refused, naming the field', async (t) => {
  const ok = configSchema.parse({})
  t.same(checkIngress(ok), [])
  const bad = configSchema.parse({ adapter: { maxInFlight: 100, maxUnacked: 50 } })
  t.match(checkIngress(bad), [{ path: ['adapter', 'maxUnacked'], message: /at least adapter.maxInFlight \(100\)/ }])
})
