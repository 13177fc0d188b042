import t from 'tap'
import { checkRoutes, RouteTable } from '../../adapters/ingress/routeTable.js'
import { routeSchema, type RouteConfig } from '../../core/config/schema.js'

function route (topic: string, fn: string, extra: Partial<RouteConfig> = {}): RouteConfig {
  return routeSchema.parse({ topic, function: fn, ...extra })
}

t.test('checkRoutes accepts good routes', async (t) => {
  t.same(checkRoutes([]), [])
  t.same(checkRoutes([
    route('sensors/{node}/reading', 'f', { reply: 'alerts/{node}' }),
    route('$share/g/site/{site}/{dev}/#', 'g', { reply: 'out/{site}/{dev}/fixed' }),
    route('a/+/#', 'h', { reply: 'static/reply' }),
    route('#', 'i')
  ]), [])
})

t.test('checkRoutes: a bad filter is reported at routes[i].topic with the reason', async (t) => {
  const problems = checkRoutes([
    route('ok/topic', 'f'),
    route('sport/tennis#', 'f'),
    route('sport/#/ranking', 'f'),
    route('a/{x}/{x}', 'f')
  ])
  t.same(problems.map((p) => p.path), [['routes', 1, 'topic'], ['routes', 2, 'topic'], ['routes', 3, 'topic']])
  t.match(problems[0]?.message, /wildcards must occupy a whole level/)
  t.match(problems[1]?.message, /'#' must be the last level/)
  t.match(problems[2]?.message, /\{x\} appears twice/)
})

t.test('checkRoutes: a reply template that is not a valid topic name is reported at routes[i].reply', async (t) => {
  const problems = checkRoutes([
    route('s/{node}', 'f', { reply: 'alerts/+' }),
    route('s/{node}', 'f', { reply: 'alerts/{node}/#' }),
    route('s/{node}', 'f', { reply: 'a\u0000b' })
  ])
  t.same(problems.map((p) => p.path), [['routes', 0, 'reply'], ['routes', 1, 'reply'], ['routes', 2, 'reply']])
  t.match(problems[0]?.message, /must not contain the wildcards/)
  t.match(problems[1]?.message, /must not contain the wildcards/)
  t.match(problems[2]?.message, /U\+0000/)
})

t.test('checkRoutes: a {var} in the reply that the topic does not capture is reported, listing the named ones', async (t) => {
  const problems = checkRoutes([
    route('sensors/{node}/reading', 'f', { reply: 'alerts/{device}' }),
    route('sensors/+/reading', 'f', { reply: 'alerts/{node}' }),
    route('s/{a}/{b}', 'f', { reply: '{a}/{c}/{d}' })
  ])
  t.same(problems, [
    { path: ['routes', 0, 'reply'], message: '{device} is not a named segment of the topic "sensors/{node}/reading" (named: {node})' },
    { path: ['routes', 1, 'reply'], message: '{node} is not a named segment of the topic "sensors/+/reading" (named: none)' },
    { path: ['routes', 2, 'reply'], message: '{c} is not a named segment of the topic "s/{a}/{b}" (named: {a}, {b})' },
    { path: ['routes', 2, 'reply'], message: '{d} is not a named segment of the topic "s/{a}/{b}" (named: {a}, {b})' },
    { path: ['routes', 2, 'reply'], message: 'the reply topic "{a}/{c}/{d}" matches the route\'s own topic "s/{a}/{b}": each reply would be handled again, for ever' }
  ])
})

t.test('checkRoutes reports a bad topic and a bad reply on the same route, but no variable check without a topic', async (t) => {
  const problems = checkRoutes([route('bad#', 'f', { reply: 'x/+/{zzz}' })])
  t.same(problems.map((p) => p.path), [['routes', 0, 'topic'], ['routes', 0, 'reply']])
})

t.test('RouteTable keeps config order, labels and settings', async (t) => {
  const table = new RouteTable([
    route('sensors/{node}/reading', 'alert', { reply: 'alerts/{node}', qos: 2, type: 'com.example.reading' }),
    route('#', 'audit', { qos: 0 })
  ])
  t.equal(table.routes.length, 2)
  const [r0, r1] = table.routes
  t.equal(r0?.index, 0)
  t.equal(r0?.label, 'routes[0]')
  t.equal(r0?.functionName, 'alert')
  t.equal(r0?.replyTemplate, 'alerts/{node}')
  t.equal(r0?.qos, 2)
  t.equal(r0?.type, 'com.example.reading')
  t.equal(r0?.pattern.filter, 'sensors/+/reading')
  t.equal(r1?.label, 'routes[1]')
  t.equal(r1?.replyTemplate, undefined)
})

t.test('RouteTable throws on a filter checkRoutes would reject', async (t) => {
  t.throws(() => new RouteTable([route('a/#/b', 'f')]), { name: 'TopicPatternError' })
})

t.test('match fans a message out to every matching route, in config order, each with its own captures', async (t) => {
  const table = new RouteTable([
    route('sensors/{node}/reading', 'alert'),
    route('#', 'audit'),
    route('sensors/+/status', 'status'),
    route('sensors/{id}/#', 'archive'),
    route('sensors/7/reading', 'seven')
  ])
  const m = table.match('sensors/7/reading')
  t.same(m.map((x) => x.route.functionName), ['alert', 'audit', 'archive', 'seven'])
  t.same(m.map((x) => x.params), [{ node: '7' }, {}, { id: '7' }, {}])
  t.same(m.map((x) => x.route.index), [0, 1, 3, 4])

  t.same(table.match('sensors/8/status').map((x) => x.route.functionName), ['audit', 'status', 'archive'])
  t.same(table.match('other').map((x) => x.route.functionName), ['audit'])
  t.same(table.match('$SYS/broker/load').map((x) => x.route.functionName), [], '# does not see $ topics')
  t.same(new RouteTable([]).match('anything'), [])
})

t.test('the same filter twice: both routes run (two functions watching one topic)', async (t) => {
  const table = new RouteTable([route('a/b', 'f1'), route('a/b', 'f2'), route('a/b', 'f1')])
  t.same(table.match('a/b').map((x) => `${x.route.label}:${x.route.functionName}`), ['routes[0]:f1', 'routes[1]:f2', 'routes[2]:f1'])
})

t.test('subscriptions: one entry per distinct filter, at the highest QoS asked for', async (t) => {
  const table = new RouteTable([
    route('sensors/{node}/reading', 'a', { qos: 0 }),
    route('sensors/+/reading', 'b', { qos: 2 }),
    route('sensors/{x}/reading', 'c', { qos: 1 }),
    route('alerts/#', 'd', { qos: 1 }),
    route('alerts/#', 'e', { qos: 0 }),
    route('$share/g/jobs/+', 'f', { qos: 1 }),
    route('jobs/+', 'g', { qos: 0 })
  ])
  t.same(table.subscriptions(), {
    'sensors/+/reading': { qos: 2 },
    'alerts/#': { qos: 1 },
    '$share/g/jobs/+': { qos: 1 },
    'jobs/+': { qos: 0 }
  })
  t.same(new RouteTable([route('x', 'f', { qos: 0 }), route('x', 'f', { qos: 1 })]).subscriptions(), { x: { qos: 1 } }, 'a later higher QoS wins')
  t.same(new RouteTable([route('x', 'f', { qos: 2 }), route('x', 'f', { qos: 0 })]).subscriptions(), { x: { qos: 2 } }, 'a later lower QoS does not downgrade')
  t.same(new RouteTable([]).subscriptions(), {})
})

t.test('checkRoutes: topicPrefix must be literal and contain the filter; deadLetter templates are checked like reply', async (t) => {
  t.same(checkRoutes([route('tenants/acme/{dev}/r', 'f', { topicPrefix: 'tenants/acme/', deadLetter: 'dlq/{dev}' })]), [])
  t.same(checkRoutes([route('$share/g/tenants/acme/#', 'f', { topicPrefix: 'tenants/acme/' })]), [], 'the $share prefix is not part of the topic')
  t.match(checkRoutes([route('tenants/+/r', 'f', { topicPrefix: 'tenants/acme/' })]), [{ path: ['routes', 0, 'topicPrefix'], message: /reaches topics outside "tenants\/acme\/"/ }])
  t.match(checkRoutes([route('t/#', 'f', { topicPrefix: 't/+' })]), [{ path: ['routes', 0, 'topicPrefix'], message: /literal/ }])
  t.match(checkRoutes([route('t/{a}', 'f', { deadLetter: 'dlq/{b}' })]), [{ path: ['routes', 0, 'deadLetter'], message: /\{b\} is not a named segment/ }])
  t.same(checkRoutes([route('t/{a}', 'f', { deadLetter: '' })]), [], 'empty: no dead-letter topic')
})
