import t from 'tap'
import { RobustFit, median } from '../../adapters/placement/robustFit.js'
import { handlerMsFromServerTiming } from '../../adapters/placement/serverTiming.js'
import { NEAR_RUNS, TierPredictor } from '../../adapters/placement/tierPredictor.js'

t.test('RobustFit recovers a line and shrugs off an outlier', async (t) => {
  const f = new RobustFit(24)
  t.equal(f.predict(100), 0, 'nothing seen: 0')
  for (let x = 1; x <= 10; x++) f.add(x * 1000, 5 + 0.002 * x * 1000)
  f.add(5000, 900) // a GC pause
  t.ok(Math.abs(f.slope - 0.002) < 1e-6, `slope ${f.slope}`)
  t.ok(Math.abs(f.intercept - 5) < 0.01, `intercept ${f.intercept}`)
  t.ok(Math.abs(f.predict(20_000) - 45) < 0.1)
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 2, 3]), 2.5)
})

t.test('RobustFit keeps only the last `window` points, and takes one size as a level', async (t) => {
  const f = new RobustFit(4)
  for (let i = 0; i < 4; i++) f.add(100, 10)
  t.equal(f.predict(100), 10)
  t.equal(f.slope, 0, 'one size: no slope')
  for (let i = 0; i < 4; i++) f.add(100, 50)
  t.equal(f.predict(100), 50, 'the old points are gone')
  t.equal(f.count, 4)
  f.add(Number.NaN, 1)
  t.equal(f.count, 4, 'a non-finite point is ignored')
  t.throws(() => new RobustFit(1), RangeError)
})

t.test('Server-Timing: the handler metric, in ms', async (t) => {
  t.equal(handlerMsFromServerTiming('handler;dur=12.345'), 12.345)
  t.equal(handlerMsFromServerTiming('db;dur=3, handler;desc="x";dur="7.5"'), 7.5)
  t.equal(handlerMsFromServerTiming(['cache;dur=1', 'handler;dur=2']), 2)
  t.equal(handlerMsFromServerTiming(undefined), undefined)
  t.equal(handlerMsFromServerTiming('handler'), undefined)
  t.equal(handlerMsFromServerTiming('handler;dur=abc'), undefined)
  t.equal(handlerMsFromServerTiming('x'.repeat(3000)), undefined)
})

t.test('TierPredictor splits transfer from execution with the handler time', async (t) => {
  const p = new TierPredictor()
  // 30 ms round trip, 1 ms per 10 kB on the wire; the handler takes 2 ms + 1 ms per 100 kB.
  for (const kb of [10, 50, 100, 200, 400, 10, 300]) {
    const bytes = kb * 1000
    const handlerMs = 2 + bytes / 100_000
    p.observe({ bytes, totalMs: 30 + bytes / 10_000 + handlerMs, handlerMs, queuedAhead: 0 })
  }
  const pr = p.predict(1_000_000, { busy: 0, slots: 4 })
  t.ok(Math.abs(pr.transferMs - 130) < 0.5, `transfer ${pr.transferMs}`)
  t.ok(Math.abs(pr.execMs - 12) < 0.5, `exec ${pr.execMs}`)
  t.equal(pr.queueMs, 0)
  t.equal(pr.coldMs, 0, 'no cold start seen')
  const queued = p.predict(1_000_000, { busy: 6, slots: 4 })
  t.ok(Math.abs(queued.queueMs - 3 / 4 * queued.execMs) < 1e-9, 'three ahead beyond four slots: 3/4 of a run')
})

t.test('TierPredictor learns cold starts: reported ones, and outliers nobody reported', async (t) => {
  const p = new TierPredictor()
  for (let i = 0; i < 10; i++) p.observe({ bytes: 1000, totalMs: 10, queuedAhead: 0 })
  p.observe({ bytes: 1000, totalMs: 510, coldStart: true, queuedAhead: 0 })
  t.ok(p.coldRate > 0.05 && p.coldRate < 0.15, `rate ${p.coldRate}`)
  t.equal(p.predict(1000, { busy: 0, slots: 1, coldChance: 1 }).coldMs, 500, 'exact chance x median excess')
  t.equal(p.predict(1000, { busy: 0, slots: 1 }).execMs, 10, 'the cold run did not move the execution fit')
  const before = p.coldRate
  p.observe({ bytes: 1000, totalMs: 900, queuedAhead: 0 }) // 90x the prediction: a start it did not report
  t.ok(p.coldRate > before, 'an outlier counts as a cold start')
  t.equal(p.predict(1000, { busy: 0, slots: 1, coldChance: 0 }).coldMs, 0, 'chance 0: none')
})

t.test('RobustFit.predictNear: the median of the runs of about the same size, else the line', async (t) => {
  const f = new RobustFit(24)
  // Work that stops growing past a cap (text-detect scales frames down to 960 px): 10, 40, 100, 100 ms.
  const sizes: Array<[number, number]> = [[2000, 10], [9000, 40], [17_000, 100], [43_000, 100]]
  for (let k = 0; k < 4; k++) for (const [x, y] of sizes) f.add(x, y + k) // a little spread
  t.equal(f.predictNear(43_000), 101.5, 'the 43 kB runs, not the line (which overshoots there)')
  t.ok(f.predict(43_000) > 130, `the line at 43 kB: ${f.predict(43_000)}`)
  t.equal(f.predictNear(17_000), 101.5)
  t.equal(f.predictNear(100_000), f.predict(100_000), 'no run near 100 kB: the line')
  t.equal(f.predictNear(2000, 0.2, 5), f.predict(2000), 'fewer than `min` near runs: the line')
  t.equal(new RobustFit().predictNear(10), 0, 'nothing seen: 0')
})

t.test('TierPredictor fits runs that shared the machine apart, and predicts shared runs from them', async (t) => {
  const p = new TierPredictor()
  for (let i = 0; i < 6; i++) p.observe({ bytes: 16_000, totalMs: 8, coldStart: false, queuedAhead: 0 })
  t.equal(p.predict(16_000, { busy: 0, slots: 1 }).execMs, 8, 'alone')
  t.equal(p.predict(16_000, { busy: 0, slots: 1, sharing: 1 }).execMs, 16, 'no shared run yet: processor sharing, alone x 2')
  // Beside another function on a CPU quota, a short run waits for the next quota period.
  for (const ms of [90, 110, 100]) p.observe({ bytes: 16_000, totalMs: ms, coldStart: false, queuedAhead: 0, sharing: 1 })
  t.equal(p.predict(16_000, { busy: 0, slots: 1, sharing: 1 }).execMs, 100, 'shared runs learned')
  t.equal(p.predict(16_000, { busy: 0, slots: 1 }).execMs, 8, 'the alone fit is untouched')
  t.equal(p.coldRate < 0.01, true, 'slow shared runs are not taken for unreported cold starts when the tier says none was cold')
})

t.test('TierPredictor takes a slow run for a cold start nobody reported only when the tier reports none', async (t) => {
  const a = new TierPredictor()
  const b = new TierPredictor()
  for (let i = 0; i < 6; i++) {
    a.observe({ bytes: 1000, totalMs: 10, queuedAhead: 0 })
    b.observe({ bytes: 1000, totalMs: 10, coldStart: false, queuedAhead: 0 })
  }
  a.observe({ bytes: 1000, totalMs: 500, queuedAhead: 0 })
  b.observe({ bytes: 1000, totalMs: 500, coldStart: false, queuedAhead: 0 })
  t.ok(a.coldRate > 0, 'silent tier: an outlier counts as a start')
  t.equal(b.coldRate, 0, 'a tier that said "not cold" is believed')
})

t.test('RobustFit: a full window pushes out the oldest run of a crowded size, not a rare size\'s few runs', async (t) => {
  const f = new RobustFit(6)
  f.add(40_000, 500)
  f.add(40_000, 510)
  for (let i = 0; i < 10; i++) f.add(2000, 10 + i % 2)
  t.equal(f.countNear(40_000), 2, 'the two big runs stay through ten small ones')
  t.equal(f.predictNear(40_000, 0.2, 2), 505)
  t.equal(f.count, 6)
  const g = new RobustFit(4)
  for (let i = 0; i < 4; i++) g.add(1000 * (i + 1) ** 3, i) // four sizes far apart: none crowded
  g.add(100_000, 9)
  t.equal(g.countNear(1000), 0, 'no size crowded: the oldest goes')
  for (let i = 0; i < 8; i++) g.add(2000, 20 + i)
  t.equal(g.predictNear(2000), 26, 'a crowded size renews oldest first: its last three runs (25, 26, 27)')
  t.equal(g.countNear(100_000), 1, 'and the one rare run stays')
})

t.test('TierPredictor: a size the tier ran twice is predicted by those runs, not by the line through the others', async (t) => {
  // Recorded edge times of text-detect (bench/RESULTS.md, issue 13, third round, seed 3, medians): 160 px frames
  // (2 kB) 14 ms, 480 px (9 kB) 74 ms, 960 px (17 kB) 616 ms; and the two 960 px runs the gap exploration sends.
  const p = new TierPredictor()
  for (let i = 0; i < 10; i++) {
    p.observe({ bytes: 2000, totalMs: 14, coldStart: false, queuedAhead: 0 })
    p.observe({ bytes: 9000, totalMs: 74, coldStart: false, queuedAhead: 0 })
  }
  p.observe({ bytes: 17_000, totalMs: 616, coldStart: false, queuedAhead: 0 })
  t.equal(p.runsNear(17_000), 1)
  t.ok(p.predict(17_000, { busy: 0, slots: 1 }).execMs < 200, 'one run there: the line through the small frames (about 143 ms)')
  p.observe({ bytes: 17_000, totalMs: 643, coldStart: false, queuedAhead: 0 })
  t.equal(p.runsNear(17_000), NEAR_RUNS, 'as many as the gap exploration gets')
  t.equal(p.predict(17_000, { busy: 0, slots: 1 }).execMs, 629.5, 'two runs there: their median (the line said about 143 ms, under the cloud\'s 214)')
  t.equal(p.predict(9000, { busy: 0, slots: 1 }).execMs, 74, 'the common sizes as before')
})

t.test('TierPredictor: a seldom size known from alone and shared runs together; shared at an unseen size from the alone runs', async (t) => {
  const p = new TierPredictor()
  for (let i = 0; i < 10; i++) {
    p.observe({ bytes: 2000, totalMs: 14, coldStart: false, queuedAhead: 0 })
    p.observe({ bytes: 9000, totalMs: 74, coldStart: false, queuedAhead: 0 })
  }
  // Recorded 6 s voice clips (192 kB) beside frames on the edge, and small frames beside clips (the shared fit).
  for (const ms of [40, 45, 50]) p.observe({ bytes: 2000, totalMs: ms, coldStart: false, queuedAhead: 0, sharing: 1 })
  p.observe({ bytes: 17_000, totalMs: 616, coldStart: false, queuedAhead: 0 })
  p.observe({ bytes: 17_000, totalMs: 700, coldStart: false, queuedAhead: 0, sharing: 1 })
  t.equal(p.runsNear(17_000), 2, 'one alone run and one shared run near 17 kB: the gap exploration is done')
  t.equal(p.predict(17_000, { busy: 0, slots: 1 }).execMs, 658, 'alone: the median of both (a little high), not the line')
  t.equal(p.predict(2000, { busy: 0, slots: 1, sharing: 1 }).execMs, 45, 'shared at a size the shared runs know: their median')
  p.observe({ bytes: 17_000, totalMs: 630, coldStart: false, queuedAhead: 0 })
  t.equal(p.predict(17_000, { busy: 0, slots: 1, sharing: 1 }).execMs, 623 * 2, 'shared where only the alone runs know the size: processor sharing on their median (616, 630)')
  t.ok(p.predict(17_000, { busy: 0, slots: 1, sharing: 1 }).execMs > 1000, 'not the shared line through the small frames')
})

t.test('TierPredictor.uncertaintyMs: the spread of a size\'s runs over sqrt(n), growing with the time since the newest ran', async (t) => {
  const p = new TierPredictor()
  t.equal(p.uncertaintyMs(2000, 0, 60_000), Number.POSITIVE_INFINITY, 'no runs near: unknown')
  for (const [ms, at] of [[50, 0], [56, 0], [62, 0], [56, 0]] as const) p.observe({ bytes: 2000, totalMs: ms, queuedAhead: 0, atMs: at })
  // Near runs 50 56 56 62: median 56, |dev| 6 0 0 6 -> MAD 3 -> sd 4.45; floor 10% of 56 = 5.6 wins.
  const fresh = p.uncertaintyMs(2000, 0, 60_000)
  t.ok(Math.abs(fresh - 5.6 / 2) < 1e-9, `fresh: 5.6 / sqrt(4) (${fresh})`)
  const stale = p.uncertaintyMs(2000, 60_000, 60_000)
  t.ok(Math.abs(stale - 5.6 * Math.sqrt(0.25 + 1)) < 1e-9, `one drift time later: 5.6 sqrt(1/4 + 1) (${stale})`)
  p.observe({ bytes: 2000, totalMs: 30, queuedAhead: 0, atMs: 60_000 })
  t.ok(p.uncertaintyMs(2000, 60_000, 60_000) < stale, 'a fresh run there makes it sure again')
  const q = new TierPredictor()
  for (const ms of [10, 20, 30, 40, 50]) q.observe({ bytes: 2000, totalMs: ms, queuedAhead: 0, atMs: 0 })
  // median 30, |dev| 20 10 0 10 20 -> MAD 10 -> sd 14.826 over the floor 3.
  t.ok(Math.abs(q.uncertaintyMs(2000, 0, 60_000) - 14.826 / Math.sqrt(5)) < 1e-9, 'a wide spread counts as it is')
})
