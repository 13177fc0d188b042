import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { RequestStats } from '../../proxy/requestStats.js'
import { StatsReporter } from '../../proxy/statsReporter.js'
import { decodeStat } from './statDecoder.js'

t.test('two requests of 500 ms each in a 1 s window average concurrency 1.0', async (t) => {
  const s = new RequestStats(0)
  s.requestIn(0, false)
  s.requestIn(0, false)
  s.requestOut(500, false)
  s.requestOut(500, false)
  const r = s.report(1000)
  t.equal(r.averageConcurrency, 1)
  t.equal(r.requestCount, 2)
  t.equal(r.averageProxiedConcurrency, 0)
})

t.test('time-weighted: one request for 250 ms, then three for 250 ms', async (t) => {
  const s = new RequestStats(0)
  s.requestIn(0, false)
  s.requestOut(250, false)
  s.requestIn(500, false); s.requestIn(500, false); s.requestIn(500, false)
  s.requestOut(750, false); s.requestOut(750, false); s.requestOut(750, false)
  t.equal(s.report(1000).averageConcurrency, (1 * 250 + 3 * 250) / 1000)
})

t.test('proxied requests count in both totals and proxied figures', async (t) => {
  const s = new RequestStats(0)
  s.requestIn(0, true)
  s.requestIn(0, false)
  s.requestOut(1000, true)
  s.requestOut(1000, false)
  const r = s.report(1000)
  t.equal(r.requestCount, 2)
  t.equal(r.proxiedRequestCount, 1)
  t.equal(r.averageConcurrency, 2)
  t.equal(r.averageProxiedConcurrency, 1)
})

t.test('each report starts a new period; in-flight requests carry over', async (t) => {
  const s = new RequestStats(0)
  s.requestIn(0, false)
  t.equal(s.report(1000).averageConcurrency, 1)
  const r2 = s.report(2000)
  t.equal(r2.averageConcurrency, 1, 'still in flight')
  t.equal(r2.requestCount, 0, 'counted once, in the period it arrived')
  s.requestOut(2500, false)
  t.equal(s.report(3000).averageConcurrency, 0.5)
  t.equal(s.report(4000).averageConcurrency, 0)
  t.equal(s.report(4000).averageConcurrency, 0, 'an empty period is 0, not NaN')
})

t.test('reporter divides counts by the period, tracks uptime, starts with Stat{PodName}', async (t) => {
  const clock = new ManualClock(10_000)
  const rep = new StatsReporter({ clock, podName: 'pod-a', reportingPeriodMs: 1000 })
  t.same(decodeStat(rep.body), { podName: 'pod-a' }, 'before the first tick only the pod name is set')
  rep.start()
  clock.advance(100)
  for (let i = 0; i < 4; i++) { rep.stats.requestIn(clock.now(), i === 0); rep.stats.requestOut(clock.now() + 0, i === 0) }
  clock.advance(900)
  t.equal(rep.last.requestCount, 4)
  t.equal(rep.last.proxiedRequestCount, 1)
  t.equal(rep.last.processUptime, 1)
  clock.advance(1000)
  t.equal(rep.last.requestCount, 0)
  t.equal(rep.last.processUptime, 2)
  rep.stop()
  t.equal(clock.pendingTimers, 0)
  const half = new StatsReporter({ clock, podName: 'p', reportingPeriodMs: 500 })
  half.stats.requestIn(clock.now(), false)
  half.stats.requestOut(clock.now(), false)
  clock.advance(500)
  half.tick()
  t.equal(half.last.requestCount, 2, 'one request in 0.5 s is 2 per second')
})
