import t from 'tap'
import { KpaScaler } from '../../adapters/runtime/capacity/kpaScaler.js'
import { RateEstimator } from '../../adapters/runtime/capacity/rateEstimator.js'
import { SloScaler } from '../../adapters/runtime/capacity/sloScaler.js'
import { serversNeeded } from '../../adapters/runtime/capacity/erlangC.js'
import { FixedScaler, ReactiveScaler, type Scaler } from '../../adapters/runtime/capacity/scaler.js'

const idle = { inFlight: 0, waiting: 0, ready: 0, starting: 0 }

t.test('rate: the 2-minute window, or the 10-second one when it is twice as high', async (t) => {
  const e = new RateEstimator({ longWindowMs: 120_000, burstWindowMs: 10_000 })
  // 1/s for two minutes.
  for (let s = 0; s < 120; s++) e.recordArrival(s * 1000 + 500)
  t.ok(Math.abs(e.rate(120_000) - 1) < 0.02, `steady: ${e.rate(120_000)}`)
  // A burst: 50 more within 5 s. Long window: 170/120 = 1.4/s; burst: (10 + 50)/10 = 6/s >= 2 x 1.4.
  for (let i = 0; i < 50; i++) e.recordArrival(120_000 + i * 100)
  const r = e.rate(125_000)
  t.ok(r > 5 && r < 7, `burst window used: ${r}`)
  // Two minutes of silence empty both windows.
  t.equal(e.rate(400_000), 0)
  t.equal(e.serviceMs, undefined, 'no service time before one is measured')
  e.recordService(100); e.recordService(300)
  t.equal(e.serviceMs, 200)
})

t.test('reactive and fixed', async (t) => {
  const r: Scaler = new ReactiveScaler(2)
  t.equal(r.target({ inFlight: 3, waiting: 2, ready: 2, starting: 0 }), 3, 'ceil(5 / 2)')
  t.equal(r.keep(), 0)
  const f: Scaler = new FixedScaler(3)
  t.equal(f.target(idle), 3)
})

t.test('KPA-like: average concurrency / (concurrency x 70%), panic holds the count up', async (t) => {
  const k = new KpaScaler(1, 100)
  // 1.4 requests in flight on average over the whole stable window: 1.4 / 0.7 = 2 instances.
  for (let s = 0; s < 60; s++) {
    k.onArrival(s * 1000); k.onArrival(s * 1000)
    k.onComplete(s * 1000 + 400); k.onComplete(s * 1000 + 1000)
  }
  k.tick(60_000, { inFlight: 0, waiting: 0, ready: 2, starting: 0 })
  t.equal(k.keep(), 2)
  // A 6-second burst of 20 concurrent: panic (20 / 0.7 = 29 >= 2 x 2).
  for (let i = 0; i < 20; i++) k.onArrival(60_000)
  k.tick(66_000, { inFlight: 20, waiting: 0, ready: 2, starting: 0 })
  t.ok(k.keep() >= 29, `panic count ${k.keep()}`)
  for (let i = 0; i < 20; i++) k.onComplete(66_000)
  k.tick(68_000, { inFlight: 0, waiting: 0, ready: 29, starting: 0 })
  t.ok(k.keep() >= 29, 'no scale-down while in panic')
  // A quiet stable window later the count falls, at most by half a decision (Knative's max-scale-down-rate 2).
  const seen: number[] = []
  let ready = 29
  for (let at = 200_000; at <= 210_000; at += 2000) { k.tick(at, { inFlight: 0, waiting: 0, ready, starting: 0 }); ready = k.keep(); seen.push(ready) }
  t.same(seen.slice(0, 5), [14, 7, 3, 1, 0], 'halving: 29 -> 14 -> 7 -> 3 -> 1 -> 0')
  const free = new KpaScaler(1, 100, { maxScaleDownRate: 0 })
  free.onArrival(0); free.onComplete(1000)
  free.tick(2000, { inFlight: 0, waiting: 0, ready: 29, starting: 0 })
  t.equal(free.keep(), 1)
  free.tick(200_000, { inFlight: 0, waiting: 0, ready: 29, starting: 0 })
  t.equal(free.keep(), 0, 'without the limit: straight to zero')
  t.equal(k.target({ inFlight: 0, waiting: 1, ready: 0, starting: 0 }), 1, 'the activator brings one up from zero')
})

t.test('SLO sizer: best effort until measured, then the Erlang C count', async (t) => {
  const slo = new SloScaler({ waitMs: 100, percentile: 0.95 }, 1, 64, { holdMs: 0, idleSecondsPerColdStart: 0, attainmentTarget: 0 })
  const s: Scaler & SloScaler = slo
  for (let i = 0; i < 200; i++) s.onArrival(i * 100) // 10/s for 20 s
  s.tick(20_000, idle)
  t.equal(s.serviceUnknown, true)
  t.equal(s.keep(), 0, 'unknown service time: nothing reserved')
  t.equal(s.target({ inFlight: 1, waiting: 2, ready: 1, starting: 0 }), 3, 'reactive meanwhile')
  for (let i = 0; i < 30; i++) s.onComplete(20_000, 250)
  s.tick(20_000, idle)
  const want = serversNeeded(10, 250, 100, 0.95, 64).servers
  t.equal(s.keep(), want, `c = ${want} for 10/s at 250 ms`)
  t.ok(want >= 3, 'more than the load a = 2.5 alone')
  t.equal(s.unmeetable, false)
})

t.test('SLO sizer holds a higher count for holdMs', async (t) => {
  const s: Scaler = new SloScaler({ waitMs: 100, percentile: 0.95 }, 1, 64, { holdMs: 60_000, longWindowMs: 10_000, burstWindowMs: 10_000, idleSecondsPerColdStart: 0, attainmentTarget: 0 })
  s.onComplete(0, 100)
  for (let i = 0; i < 100; i++) s.onArrival(i * 100)
  s.tick(10_000, idle)
  const high = s.keep()
  s.tick(40_000, idle)
  t.equal(s.keep(), high, 'the estimate fell to 0 but the count holds')
  s.tick(75_000, idle)
  t.equal(s.keep(), 0, 'released after the hold')
})
