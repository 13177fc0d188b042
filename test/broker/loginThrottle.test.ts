import t from 'tap'
import { LoginThrottle } from '../../adapters/broker/loginThrottle.js'

const limits = { concurrentChecks: 2, queuedChecks: 1, failuresBeforeLockout: 3, lockoutMaxMs: 5000 }

function deferred (): { promise: Promise<boolean>; resolve: (v: boolean) => void } {
  let resolve: (v: boolean) => void = () => {}
  const promise = new Promise<boolean>((r) => { resolve = r })
  return { promise, resolve }
}

t.test('at most concurrentChecks run at once, queuedChecks wait, the rest are refused before any check', async (t) => {
  const th = new LoginThrottle(limits, () => 0)
  const gates = [deferred(), deferred(), deferred()]
  let started = 0
  const runs = gates.map((g) => {
    t.same(th.admit('a'), { ok: true })
    return th.run(async () => { started++; return await g.promise })
  })
  await Promise.resolve()
  t.equal(started, 2, 'two checks started')
  t.equal(th.running, 2)
  t.equal(th.queued, 1, 'the third waits')
  t.same(th.admit('b'), { ok: false, reason: 'busy' }, 'a fourth is refused: the queue is full')
  gates[0]?.resolve(true)
  await runs[0]
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(started, 3, 'the waiting check got the freed slot')
  t.equal(th.running, 2)
  t.equal(th.queued, 0)
  gates[1]?.resolve(false)
  gates[2]?.resolve(true)
  t.same(await Promise.all(runs), [true, false, true])
  t.equal(th.running, 0, 'every slot given back')
})

t.test('a check that throws gives its slot back', async (t) => {
  const th = new LoginThrottle({ ...limits, concurrentChecks: 1 }, () => 0)
  await t.rejects(th.run(async () => { throw new Error('scrypt failed') }), /scrypt failed/)
  t.equal(th.running, 0)
  t.equal(await th.run(async () => 7), 7)
})

t.test('failures in a row lock an address out, doubling from 1 s to lockoutMaxMs; a good login resets', async (t) => {
  let now = 1_000_000
  const th = new LoginThrottle(limits, () => now)
  t.equal(th.failed('10.0.0.1'), 0)
  t.equal(th.failed('10.0.0.1'), 0)
  t.same(th.admit('10.0.0.1'), { ok: true }, 'two failures: still admitted')
  t.equal(th.failed('10.0.0.1'), 1000, 'the third starts a 1 s lockout')
  t.same(th.admit('10.0.0.1'), { ok: false, reason: 'locked-out', retryInMs: 1000, failures: 3 })
  t.same(th.admit('10.0.0.2'), { ok: true }, 'other addresses are not affected')
  now += 999
  t.equal(th.admit('10.0.0.1').ok, false, 'still locked 1 ms before the end')
  now += 1
  t.same(th.admit('10.0.0.1'), { ok: true }, 'admitted when it ends')
  t.equal(th.failed('10.0.0.1'), 2000, 'the next failure doubles it')
  t.equal(th.failed('10.0.0.1'), 4000)
  t.equal(th.failed('10.0.0.1'), 5000, 'capped at lockoutMaxMs')
  t.equal(th.failed('10.0.0.1'), 5000)
  th.succeeded('10.0.0.1')
  t.same(th.admit('10.0.0.1'), { ok: true }, 'a good login clears the address')
  t.equal(th.failed('10.0.0.1'), 0, 'and its count starts again')
})

t.test('the addresses tracked are bounded: the least recently failed one is forgotten', async (t) => {
  const th = new LoginThrottle({ ...limits, failuresBeforeLockout: 1 }, () => 0, 2)
  th.failed('a')
  th.failed('b')
  th.failed('a')
  th.failed('c')
  t.equal(th.admit('b').ok, true, 'b, the oldest, was forgotten')
  t.equal(th.admit('a').ok, false)
  t.equal(th.admit('c').ok, false)
})
