import t from 'tap'
import { GapHistogram } from '../../adapters/runtime/capacity/gapHistogram.js'
import { KpaScaler } from '../../adapters/runtime/capacity/kpaScaler.js'
import { RateEstimator } from '../../adapters/runtime/capacity/rateEstimator.js'
import { SloScaler } from '../../adapters/runtime/capacity/sloScaler.js'
import { seededRandom } from '../../core/seededRandom.js'


const slo = { waitMs: 100, percentile: 0.95 }

t.test('gap histogram: a Poisson function has the same hazard at every idle age', async (t) => {
  const h = new GapHistogram(5000)
  const rnd = seededRandom(7)
  // Exponential gaps, mean 20 s: hazard 0.05/s.
  for (let i = 0; i < 5000; i++) h.record(-Math.log(1 - rnd()) * 20_000)
  for (const age of [0, 10_000, 30_000]) {
    // Over a 10-s horizon: (1 - e^(-10/20)) / 10 s = 0.0393/s at every age.
    const z = h.hazard(age, 10_000)
    t.ok(Math.abs(z - (1 - Math.exp(-0.5)) / 10) < 0.006, `age ${age / 1000} s: ${z.toFixed(4)}/s`)
  }
  t.ok(Math.abs(h.survival(20_000) - Math.exp(-1)) < 0.05, `S(mean) ~ 1/e: ${h.survival(20_000).toFixed(3)}`)
  t.equal(h.hazard(10_000_000, 10_000), 0, 'never idle this long: no estimate, 0')
})

t.test('gap histogram: a periodic function peaks at its period', async (t) => {
  const h = new GapHistogram()
  for (let i = 0; i < 50; i++) h.record(60_000)
  t.equal(h.hazard(10_000, 10_000), 0, 'just after a request nothing comes')
  t.ok(h.hazard(52_000, 10_000) > 0.05, `just before the period: ${h.hazard(52_000, 10_000)}`)
})

t.test('gap histogram forgets: the newest gaps weigh most', async (t) => {
  const h = new GapHistogram(20)
  for (let i = 0; i < 200; i++) h.record(1_000)
  for (let i = 0; i < 100; i++) h.record(600_000)
  t.ok(h.survival(100_000) > 0.9, `after the change most weight is on 10-minute gaps: ${h.survival(100_000).toFixed(3)}`)
})

t.test('rate upper confidence bound and burst factor', async (t) => {
  const e = new RateEstimator({ longWindowMs: 100_000, burstWindowMs: 10_000 })
  for (let s = 0; s < 100; s++) e.recordArrival(s * 1000 + 500)
  t.ok(Math.abs(e.rate(100_000) - 1) < 0.02)
  t.ok(Math.abs(e.rate(100_000, 1) - 1.1) < 0.02, `n + sqrt(n): ${e.rate(100_000, 1)}`)
  for (let i = 0; i < 40; i++) e.recordArrival(100_000 + i * 10)
  t.ok(e.rate(101_000) > 4, 'burst window at factor 2')
  t.ok(e.rate(101_000, 0, Infinity) < 2, 'burst window off')
  const off = new SloScaler(slo, 1, 64, { idleSecondsPerColdStart: 0, attainmentTarget: 0 })
  off.onComplete(0, 50)
  for (let s = 0; s < 100; s++) off.onArrival(s * 1000 + 500)
  for (let i = 0; i < 40; i++) off.onArrival(100_000 + i * 10)
  off.tick(101_000)
  t.ok(off.lastRatePerSec < 2, `the default burstFactor 0: off (${off.lastRatePerSec.toFixed(2)}/s)`)
})

t.test('SLO sizer warm floor: periodic arrivals are warmed just before the period, not kept through it', async (t) => {
  const s = new SloScaler(slo, 1, 8, { idleSecondsPerColdStart: 120, periodMs: 5000 })
  s.onComplete(0, 50)
  // Before minGaps gaps: one instance for 120 s after an arrival.
  s.onArrival(0)
  s.tick(5000)
  t.equal(s.keep(), 1, 'no history yet: kept')
  s.tick(125_000)
  t.equal(s.keep(), 0, 'no history yet: released idleSecondsPerColdStart after the arrival')
  // Every 60 s from here.
  for (let k = 1; k <= 20; k++) s.onArrival(k * 60_000 + 125_000)
  const last = 20 * 60_000 + 125_000
  s.tick(last + 10_000)
  t.equal(s.keep(), 0, '10 s after a request of a 60-s function: no instance')
  t.equal(s.reapIdleMs, 15_000, 'the 2-minute window still holds arrivals: idle ones above the floor stay holdMs')
  s.tick(last + 50_000)
  t.equal(s.keep(), 1, '50 s after: warmed for the next one')
  t.equal(s.warmFloor, 1)
  s.tick(last + 130_000)
  t.equal(s.keep(), 0, 'never idle this long before: released')
  t.equal(s.reapIdleMs, 0, 'the window is empty: the floor decides, reaped at once')
})

t.test('SLO sizer warm floor: a Poisson function is kept iff its rate is worth it', async (t) => {
  const rnd = seededRandom(3)
  for (const [meanS, want] of [[30, 1], [600, 0]] as const) {
    const s = new SloScaler(slo, 1, 8, { idleSecondsPerColdStart: 120 })
    s.onComplete(0, 50)
    let at = 0
    for (let i = 0; i < 300; i++) { at += -Math.log(1 - rnd()) * meanS * 1000; s.onArrival(at) }
    s.tick(at + 200_000 < at + meanS * 1000 ? at + 200_000 : at + 1000)
    t.equal(s.warmFloor, want, `mean gap ${meanS} s: floor ${want}`)
  }
})

t.test('SLO sizer: waiting requests start instances only when the queue cannot drain within the objective', async (t) => {
  const s = new SloScaler(slo, 1, 64, { idleSecondsPerColdStart: 0, attainmentTarget: 0 })
  for (let i = 0; i < 5; i++) s.onComplete(0, 20)
  t.equal(s.target({ inFlight: 2, waiting: 3, ready: 2, starting: 0 }), 2, '3 x 20 ms / 2 = 30 ms <= 100 ms: no cold start')
  t.equal(s.target({ inFlight: 2, waiting: 30, ready: 2, starting: 0 }), 32, '30 x 20 / 2 = 300 ms: reactive')
  const old = new SloScaler(slo, 1, 64, { idleSecondsPerColdStart: 0, attainmentTarget: 0, startWhenQueueExceedsSlo: false })
  old.onComplete(0, 20)
  t.equal(old.target({ inFlight: 2, waiting: 3, ready: 2, starting: 0 }), 5, 'off: every waiting request starts one')
})

t.test('SLO sizer: no burst window for a function that serves longer than it', async (t) => {
  const mk = (short: boolean): SloScaler => new SloScaler(slo, 1, 256, { idleSecondsPerColdStart: 0, attainmentTarget: 0, burstFactor: 2, burstNeedsShortService: short })
  for (const short of [true, false]) {
    const s = mk(short)
    s.onComplete(0, 300_000)
    for (let i = 0; i < 12; i++) s.onArrival(i * 10_000) // 0.1/s for 2 min
    for (let i = 0; i < 10; i++) s.onArrival(120_000 + i * 100) // 10 in one second
    s.tick(121_000)
    t.ok(short ? s.lastRatePerSec < 0.3 : s.lastRatePerSec >= 0.9, `burstNeedsShortService ${String(short)}: ${s.lastRatePerSec.toFixed(2)}/s`)
  }
})

t.test('KPA-like: Knative\'s max-scale-up-rate bounds one decision', async (t) => {
  const k = new KpaScaler(1, 10_000, { maxScaleUpRate: 2 })
  for (let i = 0; i < 100; i++) k.onArrival(0)
  k.tick(6000, { inFlight: 100, waiting: 0, ready: 3, starting: 0 })
  t.equal(k.keep(), 6, 'ceil(2 x 3)')
})

t.test('gap histogram quantiles, and the percentiles floor (Serverless in the Wild\'s hybrid) for comparison', async (t) => {
  const h = new GapHistogram()
  t.equal(h.quantile(0.5), 0, 'no gaps: 0')
  const rnd = seededRandom(9)
  for (let i = 0; i < 2000; i++) h.record(-Math.log(1 - rnd()) * 20_000)
  // Exponential, mean 20 s: median 13.9 s, p99 92 s (within a bin's resolution, a factor sqrt 2).
  t.ok(Math.abs(h.quantile(0.5) - 13_863) < 2500, `median ${h.quantile(0.5).toFixed(0)} ms`)
  t.ok(Math.abs(h.quantile(0.99) - 92_103) < 20_000, `p99 ${h.quantile(0.99).toFixed(0)} ms`)
  const s = new SloScaler(slo, 1, 8, { floorRule: 'percentiles', periodMs: 5000 })
  s.onComplete(0, 50)
  for (let k = 0; k <= 20; k++) s.onArrival(k * 60_000)
  const last = 20 * 60_000
  s.tick(last + 10_000)
  t.equal(s.warmFloor, 0, 'released after the arrival (before 0.9 x p5)')
  s.tick(last + 45_000)
  t.equal(s.warmFloor, 1, 'pre-warmed ahead of the next')
  s.tick(last + 75_000)
  t.equal(s.warmFloor, 0, 'past 1.1 x p99: released')
})
