import t from 'tap'
import { FixedPolicy } from '../../prefetch/policies/fixedPolicy.js'
import { KnativePolicy } from '../../prefetch/policies/knativePolicy.js'
import { HybridPolicy } from '../../prefetch/policies/hybridPolicy.js'
import { IdleHistogram } from '../../prefetch/policies/idleHistogram.js'
import { ArForecaster, levinsonDurbin } from '../../prefetch/policies/arForecaster.js'
import { createPolicy } from '../../prefetch/policies/policies.js'
import { MINUTE_MS } from '../../prefetch/policies/policy.js'
import { codeOf } from '../helpers/codeOf.js'

const min = (m: number): number => m * MINUTE_MS

/** Feeds arrivals in the given minutes (one each) to a policy. */
function feed (p: { observe(fn: string, t: number, c: number): void }, minutes: number[], fn = 'f'): void {
  for (const m of minutes) p.observe(fn, min(m), 1)
}

t.test('fixed: nothing warm before the first arrival, then N minutes after the arrival minute', async (t) => {
  const p = new FixedPolicy({ keepAliveMin: 10 })
  t.equal(p.decide('f', 0).instances, 0)
  feed(p, [5])
  const d = p.decide('f', min(6))
  t.equal(d.prewarmAt, min(5))
  t.equal(d.keepAliveUntil, min(16), 'minute 5 ends at 6, plus 10')
  t.equal(p.stateBytes('f'), 8)
})

t.test('knative: lingers stable window + grace after the arrival minute, no pre-warm', async (t) => {
  const p = new KnativePolicy()
  feed(p, [3])
  const d = p.decide('f', min(4))
  t.equal(d.keepAliveUntil, min(4) + 90_000)
  t.ok(d.prewarmAt <= min(4))
  t.equal(new KnativePolicy({ stableWindowSec: 120, scaleToZeroGraceSec: 0 }).params.stableWindowSec, 120)
})

t.test('hybrid rule: no idle time yet -> standard keep-alive of the range (240 min)', async (t) => {
  const p = new HybridPolicy()
  feed(p, [0])
  t.equal(p.mode('f'), 'fallback')
  t.equal(p.decide('f', min(1)).keepAliveUntil, min(1 + 240))
})

t.test('hybrid rule: histogram head minus 10% and tail plus 10%', async (t) => {
  const p = new HybridPolicy()
  feed(p, [0, 10, 20, 30]) // idle times 9, 9, 9
  t.equal(p.mode('f'), 'histogram')
  const d = p.decide('f', min(31))
  t.equal(d.prewarmAt, min(31) + 9 * 0.9 * MINUTE_MS, 'head = 9 (lower edge of bin 9) x 0.9')
  t.equal(d.keepAliveUntil, min(31) + 10 * 1.1 * MINUTE_MS, 'tail = 10 (upper edge of bin 9) x 1.1')
})

t.test('hybrid rule: head of 0 keeps the instance loaded (no unload)', async (t) => {
  const p = new HybridPolicy()
  feed(p, [0, 1, 2, 3])
  const d = p.decide('f', min(4))
  t.ok(d.prewarmAt <= min(4))
  t.equal(d.keepAliveUntil, min(4) + 1 * 1.1 * MINUTE_MS)
})

t.test('hybrid rule: CV below the threshold falls back to the standard keep-alive', async (t) => {
  const p = new HybridPolicy({ rangeMin: 10 })
  // idle times spread evenly over all 10 bins: CV 0
  let m = 0
  const mins = [m]
  for (let k = 0; k < 10; k++) { m += k + 1; mins.push(m) }
  feed(p, mins)
  t.equal(p.mode('f'), 'fallback')
  t.equal(p.decide('f', min(m + 1)).keepAliveUntil, min(m + 1 + 240))
  const q = new HybridPolicy({ rangeMin: 10, cvThreshold: 0 })
  feed(q, mins)
  t.equal(q.mode('f'), 'histogram', 'threshold 0 accepts any histogram')
})

t.test('hybrid rule: too few samples falls back', async (t) => {
  const p = new HybridPolicy({ minSamples: 3 })
  feed(p, [0, 10, 20])
  t.equal(p.mode('f'), 'fallback')
  feed(p, [30])
  t.equal(p.mode('f'), 'histogram')
})

t.test('hybrid rule: mostly out-of-bounds idle times use the time-series forecast +-15%', async (t) => {
  const p = new HybridPolicy({ rangeMin: 60 })
  feed(p, [0, 101, 202]) // idle 100, 100: both out of bounds
  t.equal(p.mode('f'), 'timeseries')
  const d = p.decide('f', min(203))
  t.equal(d.prewarmAt, min(203) + 100 * 0.85 * MINUTE_MS)
  t.equal(d.keepAliveUntil, min(203) + 100 * 1.15 * MINUTE_MS)
  t.ok(p.stateBytes('f') < 1100, 'histogram of 60 bins + AR ring stays small')
})

t.test('hybrid: state of the paper setting is about 1 KB a function', async (t) => {
  const p = new HybridPolicy()
  feed(p, [0])
  t.ok(p.stateBytes('f') >= 960 && p.stateBytes('f') < 1200)
})

t.test('idle histogram: CV and quantile bins', async (t) => {
  const h = new IdleHistogram(4, 1)
  h.add(1); h.add(1); h.add(1); h.add(9)
  t.equal(h.inRange, 3)
  t.equal(h.outOfBounds, 1)
  // bins [0,3,0,0]: mean 0.75, sample sd sqrt((3*0.5625+5.0625)/3)=1.5 -> CV 2
  t.equal(h.cv.toFixed(6), '2.000000')
  t.equal(h.quantileBin(0.05), 1)
  t.equal(h.quantileBin(0.99), 1)
})

t.test('AR forecaster: mean for few samples, follows an alternating series, clamps', async (t) => {
  const f = new ArForecaster(16, 2)
  t.equal(f.forecast(), undefined)
  f.push(10); f.push(20)
  t.equal(f.forecast(), 15)
  const g = new ArForecaster(16, 2)
  for (let i = 0; i < 12; i++) g.push(i % 2 === 0 ? 10 : 50)
  const next = g.forecast() ?? 0 // last was 50, so the next should lean to 10
  t.ok(next < 30, `alternating series forecast ${next}`)
  t.ok(next >= 10)
  t.same(levinsonDurbin([1, 0.5], 1), [0.5])
})

t.test('unknown policy and bad params are coded errors', async (t) => {
  t.equal(codeOf(() => createPolicy('nope')), 'SIM_UNKNOWN_POLICY')
  t.equal(codeOf(() => createPolicy('fixed', { keepAliveMin: 'x' })), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('fixed', { nope: 1 })), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('hybrid', { binMin: 1.5 })), 'SIM_INVALID_PARAM')
  t.equal(createPolicy('fixed', { keepAliveMin: '20' }).params.keepAliveMin, 20)
})
