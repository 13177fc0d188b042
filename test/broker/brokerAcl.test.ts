import t from 'tap'
import { BrokerAcl, type ClientIdentity } from '../../adapters/broker/brokerAcl.js'

const acl = new BrokerAcl({
  rules: [
    { users: ['*'], publish: ['devices/{username}/#'], subscribe: ['devices/{username}/#'] },
    { users: ['dashboard'], publish: [], subscribe: ['devices/+/alert'] },
    { users: ['*'], publish: ['by-id/{clientId}'], subscribe: [] }
  ],
  adapterOnly: ['devices/+/alert', 'iotless/dead-letter'],
  adapterClientId: 'iotless-adapter',
  bindClientIdToUser: true
})
const device = (username: string, clientId = username): ClientIdentity => ({ username, clientId, isAdapter: false })
const adapter: ClientIdentity = { username: 'iotless-adapter', clientId: 'iotless-adapter', isAdapter: true }
const anon: ClientIdentity = { username: undefined, clientId: 'x', isAdapter: false }

t.test('devices publish only under their own prefix', async (t) => {
  t.equal(acl.publishProblem(device('s1'), 'devices/s1/reading'), undefined)
  t.match(acl.publishProblem(device('s1'), 'devices/s2/reading'), /no broker.acl rule lets s1 publish/)
  t.match(acl.publishProblem(device('s1'), 'sensors/s1/reading'), /no broker.acl rule/)
  t.match(acl.publishProblem(device('s1'), 'devices/s1/alert'), /only the adapter/, 'not its own alert topic either')
  t.match(acl.publishProblem(device('s1'), 'iotless/dead-letter'), /only the adapter/)
  t.match(acl.publishProblem(device('s1'), '$SYS/x'), /\$SYS/)
  t.equal(acl.publishProblem(device('s1', 's1:2'), 'by-id/s1:2'), undefined, '{clientId} is the client id')
})

t.test('subscriptions lie inside the rules', async (t) => {
  t.ok(acl.maySubscribe(device('s1'), 'devices/s1/#'))
  t.ok(acl.maySubscribe(device('s1'), 'devices/s1/alert'))
  t.notOk(acl.maySubscribe(device('s1'), '#'))
  t.notOk(acl.maySubscribe(device('s1'), 'devices/+/alert'))
  t.notOk(acl.maySubscribe(device('s1'), 'devices/s2/#'))
  t.ok(acl.maySubscribe(device('dashboard'), 'devices/+/alert'), 'a rule for a named user')
  t.notOk(acl.maySubscribe(device('dashboard'), 'devices/+/reading'))
})

t.test('a username with a separator or a wildcard does not widen a rule', async (t) => {
  t.match(acl.publishProblem(device('a/#', 'a/#'), 'devices/a/b/c'), /no broker.acl rule/)
  t.notOk(acl.maySubscribe(device('+', '+'), 'devices/+/#'))
})

t.test('client ids: the adapter\'s is the adapter\'s; a user\'s starts with its username', async (t) => {
  t.match(acl.connectProblem(device('s1', 'iotless-adapter')), /is the adapter's/)
  t.match(acl.connectProblem(anon.username === undefined ? { ...anon, clientId: 'iotless-adapter' } : anon), /is the adapter's/)
  t.equal(acl.connectProblem(adapter), undefined)
  t.equal(acl.connectProblem(device('s1')), undefined)
  t.equal(acl.connectProblem(device('s1', 's1:boot2')), undefined)
  t.match(acl.connectProblem(device('s1', 's2')), /bindClientIdToUser/)
  t.match(acl.connectProblem(device('s1', 's1-2')), /bindClientIdToUser/, 'not another user\'s id that shares a prefix')
  t.equal(new BrokerAcl({ rules: [], adapterOnly: [], adapterClientId: 'a', bindClientIdToUser: false }).connectProblem(device('s1', 's2')), undefined)
})

t.test('the adapter may do anything but $SYS; anonymous clients anything but the adapter-only topics', async (t) => {
  t.equal(acl.publishProblem(adapter, 'devices/s1/alert'), undefined)
  t.ok(acl.maySubscribe(adapter, '#'))
  t.match(acl.publishProblem(adapter, '$SYS/x'), /\$SYS/)
  t.equal(acl.publishProblem(anon, 'anything/at/all'), undefined)
  t.match(acl.publishProblem(anon, 'devices/s1/alert'), /only the adapter/)
  t.ok(acl.maySubscribe(anon, '#'))
})

t.test('no rules: an authenticated user may do nothing', async (t) => {
  const none = new BrokerAcl({ rules: [], adapterOnly: [], adapterClientId: 'a', bindClientIdToUser: true })
  t.match(none.publishProblem(device('s1'), 'devices/s1/x'), /no broker.acl rule/)
  t.notOk(none.maySubscribe(device('s1'), 'devices/s1/x'))
})
