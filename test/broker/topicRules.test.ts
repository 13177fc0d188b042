import t from 'tap'
import { filterCoversFilter, filterMatchesTopic, templateToFilter, topicFilterProblem, topicNameProblem } from '../../adapters/broker/topicRules.js'

t.test('topic names: what aedes would mishandle or the spec forbids is refused', async (t) => {
  for (const ok of ['sensors/17/reading', 'a', 'devices/s-1/x y', '€/ü']) t.equal(topicNameProblem(ok), undefined, ok)
  t.match(topicNameProblem(''), /at least one character/)
  t.match(topicNameProblem('sensors//reading'), /empty level/)
  t.match(topicNameProblem('/sensors'), /empty level/, 'leading /')
  t.match(topicNameProblem('sensors/'), /empty level/, 'trailing /')
  t.match(topicNameProblem('sensors/+/reading'), /wildcards/)
  t.match(topicNameProblem('sensors/#'), /wildcards/)
  t.match(topicNameProblem('a\u0000b'), /U\+0000/)
  t.match(topicNameProblem('x'.repeat(65536)), /65535 bytes/)
  t.match(topicNameProblem('é'.repeat(32768)), /65535 bytes/, 'counted in UTF-8 bytes, not characters')
})

t.test('topic filters', async (t) => {
  for (const ok of ['#', '+', 'a/+/b', 'a/#', '+/+', 'a//b']) t.equal(topicFilterProblem(ok), undefined, ok)
  t.match(topicFilterProblem('a/#/b'), /last/)
  t.match(topicFilterProblem('a/b#'), /whole level/)
  t.match(topicFilterProblem('a/b+/c'), /whole level/)
  t.match(topicFilterProblem(''), /at least one/)
  t.match(topicFilterProblem('a\u0000'), /U\+0000/)
})

t.test('filter matching (MQTT 4.7)', async (t) => {
  t.ok(filterMatchesTopic('devices/s1/#', 'devices/s1/reading'))
  t.ok(filterMatchesTopic('devices/s1/#', 'devices/s1'), '# matches the parent level')
  t.notOk(filterMatchesTopic('devices/s1/#', 'devices/s2/reading'))
  t.ok(filterMatchesTopic('alerts/+', 'alerts/17'))
  t.notOk(filterMatchesTopic('alerts/+', 'alerts/17/x'))
  t.notOk(filterMatchesTopic('#', '$SYS/x'), 'a leading wildcard matches no $ topic')
  t.ok(filterMatchesTopic('$SYS/#', '$SYS/x'))
})

t.test('a subscription lies inside an allowed filter', async (t) => {
  t.ok(filterCoversFilter('devices/s1/#', 'devices/s1/#'))
  t.ok(filterCoversFilter('devices/s1/#', 'devices/s1/+/alert'))
  t.ok(filterCoversFilter('devices/s1/#', 'devices/s1'))
  t.ok(filterCoversFilter('alerts/+', 'alerts/17'))
  t.ok(filterCoversFilter('alerts/+', 'alerts/+'))
  t.notOk(filterCoversFilter('devices/s1/#', '#'))
  t.notOk(filterCoversFilter('devices/s1/#', 'devices/#'))
  t.notOk(filterCoversFilter('devices/s1/#', 'devices/+/reading'))
  t.notOk(filterCoversFilter('alerts/17', 'alerts/+'))
  t.notOk(filterCoversFilter('alerts/+', 'alerts/#'))
  t.notOk(filterCoversFilter('+/x', '$SYS/x'), 'a leading wildcard covers no $ filter')
  t.notOk(filterCoversFilter('#', '$SYS/#'))
})

t.test('reply and dead-letter templates become filters', async (t) => {
  t.equal(templateToFilter('alerts/{node}'), 'alerts/+')
  t.equal(templateToFilter('devices/{device}/reply'), 'devices/+/reply')
  t.equal(templateToFilter('out/n{node}x'), 'out/+', 'a level holding a {name} anywhere is one whole level')
  t.equal(templateToFilter('iotless/dead-letter'), 'iotless/dead-letter')
})
