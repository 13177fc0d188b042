// Topic filters per MQTT 3.1.1 section 4.7 and MQTT 5.0 section 4.7 (the non-normative examples are quoted
// below by their wording), shared subscriptions per MQTT 5.0 section 4.8.2, plus iotless's named segments.
import t, { type Test } from 'tap'
import {
  checkTopicName, compileTopicPattern, matchTopic, renderTopicTemplate, templateVariables, TopicPatternError
} from '../../adapters/ingress/topicPattern.js'

function matches (filter: string, topic: string): boolean {
  return matchTopic(compileTopicPattern(filter), topic) !== undefined
}

function table (t: Test, rows: Array<[string, string, boolean]>): void {
  for (const [filter, topic, want] of rows) {
    t.equal(matches(filter, topic), want, `"${filter}" ${want ? 'matches' : 'does not match'} "${topic}"`)
  }
}

t.test('4.7.1.2 multi-level wildcard #', async (t) => {
  table(t, [
    // "if a Client subscribes to "sport/tennis/player1/#", it would receive messages published using these topic names"
    ['sport/tennis/player1/#', 'sport/tennis/player1', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/ranking', true],
    ['sport/tennis/player1/#', 'sport/tennis/player1/score/wimbledon', true],
    ['sport/tennis/player1/#', 'sport/tennis/player2', false],
    ['sport/tennis/player1/#', 'sport/tennis', false],
    ['sport/tennis/player1/#', 'sport/tennis/player1x', false],
    // '"sport/#" also matches the singular "sport", since # includes the parent level'
    ['sport/#', 'sport', true],
    ['sport/#', 'sport/', true],
    ['sport/#', 'sport/tennis/player1', true],
    ['sport/#', 'sports', false],
    ['sport/#', 'Sport/tennis', false],
    // '"#" is valid and will receive every Application Message'
    ['#', 'sport', true],
    ['#', 'sport/tennis/player1', true],
    ['#', '/', true],
    ['#', '/finance', true],
    ['#', 'a//b', true]
  ])
})

t.test('4.7.1.3 single-level wildcard +', async (t) => {
  table(t, [
    // '"sport/tennis/+" matches "sport/tennis/player1" and "sport/tennis/player2", but not "sport/tennis/player1/ranking"'
    ['sport/tennis/+', 'sport/tennis/player1', true],
    ['sport/tennis/+', 'sport/tennis/player2', true],
    ['sport/tennis/+', 'sport/tennis/player1/ranking', false],
    // '"sport/+" does not match "sport" but it does match "sport/"'
    ['sport/+', 'sport', false],
    ['sport/+', 'sport/', true],
    // '"+" is valid'; '"+/+" and "/+" match "/finance"; "+" does not'
    ['+', 'finance', true],
    ['+', '/finance', false],
    ['+', 'finance/', false],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['/+', 'finance', false],
    ['+/tennis/#', 'sport/tennis/player1', true],
    ['+/tennis/#', 'sport/tennis', true],
    ['+/tennis/#', 'sport/golf', false],
    ['sport/+/player1', 'sport/tennis/player1', true],
    ['sport/+/player1', 'sport//player1', true],
    ['sport/+/player1', 'sport/tennis/player2', false],
    ['+/+/+', 'a/b/c', true],
    ['+/+/+', 'a/b', false],
    ['+/+/+', 'a/b/c/d', false],
    ['+', '', true],
    ['+/+', '/', true]
  ])
})

t.test('4.7.2 topics beginning with $', async (t) => {
  table(t, [
    // "A subscription to "#" will not receive any messages published to a topic beginning with a $"
    ['#', '$SYS', false],
    ['#', '$SYS/broker/clients', false],
    // '"+/monitor/Clients" will not receive any messages published to "$SYS/monitor/Clients"'
    ['+/monitor/Clients', '$SYS/monitor/Clients', false],
    ['+/monitor/Clients', 'x/monitor/Clients', true],
    ['+', '$SYS', false],
    // '"$SYS/#" will receive messages published to topics beginning with "$SYS/"'
    ['$SYS/#', '$SYS/x', true],
    ['$SYS/#', '$SYS/broker/clients/connected', true],
    ['$SYS/#', '$SYS', true],
    // '"$SYS/monitor/+" will receive messages published to "$SYS/monitor/Clients"'
    ['$SYS/monitor/+', '$SYS/monitor/Clients', true],
    ['$SYS/monitor/+', '$SYS/monitor', false],
    // Only the first level counts: a $ further down is an ordinary character.
    ['sport/#', 'sport/$x', true],
    ['+/x', 'a$/x', true],
    ['{who}/x', '$SYS/x', false]
  ])
})

t.test('4.7.3 topic semantics: case-sensitive, spaces allowed, a leading or trailing / makes a distinct level', async (t) => {
  table(t, [
    ['ACCOUNTS', 'ACCOUNTS', true],
    ['ACCOUNTS', 'Accounts', false],
    ['Accounts payable', 'Accounts payable', true],
    ['/finance', '/finance', true],
    ['/finance', 'finance', false],
    ['finance', 'finance/', false],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['a//b', 'a//b', true],
    ['a//b', 'a/b', false],
    ['/', '/', true],
    ['温度/+', '温度/1', true]
  ])
})

t.test('invalid filters are rejected with a TopicPatternError that says why', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['sport/tennis#', /whole level/],
    ['sport/tennis/#/ranking', /'#' must be the last level/],
    ['#/x', /'#' must be the last level/],
    ['sport+', /whole level/],
    ['sport/+tennis', /whole level/],
    ['sport/ten+nis/x', /whole level/],
    ['##', /whole level/],
    ['++', /whole level/],
    ['', /at least one character/],
    ['a/\u0000/b', /U\+0000/],
    ['x'.repeat(65536), /65535 bytes/],
    ['é'.repeat(32768), /65535 bytes/]
  ]
  for (const [filter, why] of bad) {
    t.throws(() => compileTopicPattern(filter), TopicPatternError, JSON.stringify(filter.slice(0, 30)))
    t.throws(() => compileTopicPattern(filter), { message: why })
  }
  t.doesNotThrow(() => compileTopicPattern('x'.repeat(65535)))
})

t.test('compiled pattern: filter to subscribe, filter to match, levels', async (t) => {
  const p = compileTopicPattern('sensors/{node}/+/reading/#')
  t.equal(p.source, 'sensors/{node}/+/reading/#')
  t.equal(p.filter, 'sensors/+/+/reading/#')
  t.equal(p.matchFilter, 'sensors/+/+/reading/#')
  t.same(p.names, ['node'])
  t.same(p.levels, [
    { kind: 'literal', value: 'sensors' },
    { kind: 'single', name: 'node' },
    { kind: 'single' },
    { kind: 'literal', value: 'reading' },
    { kind: 'multi' }
  ])
})

t.test('named segments match one level like + and capture it', async (t) => {
  const p = compileTopicPattern('sensors/{node}/reading')
  t.same(matchTopic(p, 'sensors/20/reading'), { node: '20' })
  t.same(matchTopic(p, 'sensors//reading'), { node: '' }, 'an empty level is a level')
  t.equal(matchTopic(p, 'sensors/20/x/reading'), undefined)
  t.equal(matchTopic(p, 'sensors/reading'), undefined)
  t.equal(matchTopic(p, 'sensors/20/reading/'), undefined)

  const two = compileTopicPattern('site/{site}/{device_1}/#')
  t.same(matchTopic(two, 'site/brussels/d7/temp/raw'), { site: 'brussels', device_1: 'd7' })
  t.same(matchTopic(two, 'site/brussels/d7'), { site: 'brussels', device_1: 'd7' })
  t.equal(matchTopic(two, 'site/brussels'), undefined)

  t.same(matchTopic(compileTopicPattern('a/+/b'), 'a/x/b'), {}, 'unnamed wildcards capture nothing')
  t.same(matchTopic(compileTopicPattern('{A_b9}'), 'v'), { A_b9: 'v' })
})

t.test('bad named segments are rejected', async (t) => {
  const bad: Array<[string, RegExp]> = [
    ['a/{x}/{x}', /\{x\} appears twice/],
    ['{dev}/{dev}', /appears twice/],
    ['a/{}/b', /must be a whole level written \{name\}/],
    ['a/{1x}/b', /must be a whole level/],
    ['a/{x-y}/b', /must be a whole level/],
    ['a/{x}{y}/b', /must be a whole level/],
    ['a/x{y}/b', /must be a whole level written \{name\}/],
    ['a/{y}x/b', /must be a whole level/],
    ['a/{y/b', /must be a whole level/],
    ['a/y}/b', /must be a whole level/],
    ['a/x{/b', /must be a whole level/]
  ]
  for (const [filter, why] of bad) t.throws(() => compileTopicPattern(filter), { name: 'TopicPatternError', message: why }, filter)
})

t.test('$share/<group>/<filter> is kept for SUBSCRIBE and ignored for matching', async (t) => {
  const p = compileTopicPattern('$share/workers/sensors/{node}/#')
  t.equal(p.filter, '$share/workers/sensors/+/#')
  t.equal(p.matchFilter, 'sensors/+/#')
  t.same(p.names, ['node'])
  t.same(matchTopic(p, 'sensors/4/reading'), { node: '4' })
  t.equal(matchTopic(p, '$share/workers/sensors/4/reading'), undefined, 'the broker delivers the plain topic')

  const all = compileTopicPattern('$share/g/#')
  t.equal(all.matchFilter, '#')
  t.ok(matchTopic(all, 'a/b'))
  t.equal(matchTopic(all, '$SYS/x'), undefined, 'the $ rule applies to the filter after the share prefix')

  t.same(compileTopicPattern('$share/g/a/b/c').levels.length, 3)

  const bad = ['$share//x', '$share/g', '$share/g/', '$share/g+/x', '$share/g#/x', '$share/g/a#']
  for (const f of bad) t.throws(() => compileTopicPattern(f), TopicPatternError, f)

  // Not a share: only the exact first level "$share" is special.
  const notShare = compileTopicPattern('$shared/g/x')
  t.equal(notShare.filter, '$shared/g/x')
  t.ok(matchTopic(notShare, '$shared/g/x'))
})

t.test('checkTopicName: topic names for PUBLISH', async (t) => {
  t.equal(checkTopicName('alerts/20'), undefined)
  t.equal(checkTopicName('/'), undefined)
  t.equal(checkTopicName('$SYS/x'), undefined)
  t.equal(checkTopicName('with space/é'), undefined)
  t.match(checkTopicName(''), /at least one character/)
  t.match(checkTopicName('alerts/+'), /wildcards/)
  t.match(checkTopicName('alerts/#'), /wildcards/)
  t.match(checkTopicName('a+b'), /wildcards/)
  t.match(checkTopicName('a\u0000b'), /U\+0000/)
  t.match(checkTopicName('x'.repeat(65536)), /65535 bytes/)
  t.match(checkTopicName('€'.repeat(21846)), /65535 bytes/, '3-byte characters count as 3')
  t.equal(checkTopicName('€'.repeat(21845)), undefined)
})

t.test('templateVariables lists {name} placeholders in order', async (t) => {
  t.same(templateVariables('alerts/{node}'), ['node'])
  t.same(templateVariables('{site}/x/{device}/{site}'), ['site', 'device', 'site'])
  t.same(templateVariables('alerts/fixed'), [])
  t.same(templateVariables('a/{}/b/{1x}/{x-y}'), [], 'only valid names are variables')
  t.same(templateVariables('pre{a}post'), ['a'])
  // The regex is global; calling twice must not carry lastIndex over.
  t.same(templateVariables('{a}'), ['a'])
  t.same(templateVariables('{a}'), ['a'])
})

t.test('renderTopicTemplate fills {name} from captures', async (t) => {
  t.equal(renderTopicTemplate('alerts/{node}', { node: '20' }), 'alerts/20')
  t.equal(renderTopicTemplate('{site}/{node}/{site}', { site: 's', node: 'n' }), 's/n/s')
  t.equal(renderTopicTemplate('alerts/{node}', {}), 'alerts/{node}', 'an unknown name is left as written')
  t.equal(renderTopicTemplate('alerts/{node}', { node: '' }), 'alerts/', 'an empty capture renders empty')
  t.equal(renderTopicTemplate('plain', { node: 'x' }), 'plain')
  t.equal(renderTopicTemplate('x/{n}', { n: '$&' }), 'x/$&', 'replacement patterns in values are not interpreted')

  // End to end: capture from a topic, render the reply.
  const p = compileTopicPattern('sensors/{node}/reading')
  const params = matchTopic(p, 'sensors/é 7/reading')
  t.ok(params)
  t.equal(renderTopicTemplate('alerts/{node}', params ?? {}), 'alerts/é 7')
})
