import t from 'tap'
import { erlangC, maxRateWithin, serversNeeded, waitProbability } from '../../adapters/runtime/capacity/erlangC.js'

t.test('Erlang C matches closed forms', async (t) => {
  // M/M/1: P(wait) = rho. M/M/2 with a = 1: C = a^2/(2-a) / (1 + a + a^2/(2-a)) = 1/3.
  t.ok(Math.abs(erlangC(1, 0.6) - 0.6) < 1e-12)
  t.ok(Math.abs(erlangC(2, 1) - 1 / 3) < 1e-12)
  t.equal(erlangC(3, 3), 1, 'an unstable queue always waits')
  t.equal(erlangC(3, 0), 0)
  // Large c does not overflow (factorials would).
  const c = erlangC(400, 380)
  t.ok(c > 0 && c < 1, `c=400: ${c}`)
})

t.test('P(W <= t) of M/M/1 is 1 - rho e^-(mu - lambda) t', async (t) => {
  const lambda = 6; const serviceMs = 100; const mu = 10
  const p = waitProbability(1, lambda, serviceMs, 50)
  t.ok(Math.abs(p - (1 - 0.6 * Math.exp(-(mu - lambda) * 0.05))) < 1e-12)
  t.equal(waitProbability(1, 20, 100, 50), 0, 'overloaded')
  t.equal(waitProbability(1, 0, 100, 50), 1, 'nothing arrives')
})

t.test('serversNeeded is the smallest c meeting the objective', async (t) => {
  for (const [rate, svc] of [[5, 100], [50, 100], [0.2, 57_000], [300, 20]] as const) {
    const r = serversNeeded(rate, svc, 100, 0.95, 1000)
    t.ok(r.met)
    t.ok(waitProbability(r.servers, rate, svc, 100) >= 0.95, `${rate}/s x ${svc} ms: c=${r.servers} meets it`)
    t.ok(r.servers === 1 || waitProbability(r.servers - 1, rate, svc, 100) < 0.95, 'c - 1 does not')
  }
  t.same(serversNeeded(0, 100, 100, 0.95, 4), { servers: 0, met: true, probability: 1 })
  const miss = serversNeeded(100, 100, 100, 0.95, 4)
  t.equal(miss.met, false, '100/s at 100 ms needs more than 4')
  t.equal(miss.servers, 4)
})

t.test('maxRateWithin inverts serversNeeded', async (t) => {
  const r = maxRateWithin(4, 100, 100, 0.95)
  t.ok(serversNeeded(r * 0.999, 100, 100, 0.95, 100).servers <= 4)
  t.ok(serversNeeded(r * 1.01, 100, 100, 0.95, 100).servers > 4)
})
