import t from 'tap'
import { ceilingFromAgreement, perInputCeiling, robustSd, selfAgreement, tiesWithinNoise, totalCeiling, wilson } from '../../bench/placement/accuracyStats.js'
import { seededRandom } from '../../core/seededRandom.js'

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-4

t.test('wilson: the score interval, closed forms at the edges', async (t) => {
  const [lo, hi] = wilson(32, 35) // the second round's 91.4%
  t.ok(close(lo, 0.77620) && close(hi, 0.97042), `${lo} ${hi}`)
  const [lo0, hi0] = wilson(0, 10)
  t.ok(close(lo0, 0) && close(hi0, 1.96 ** 2 / (10 + 1.96 ** 2)), 'none right: upper z^2/(n+z^2)')
  const [lo1, hi1] = wilson(10, 10)
  t.ok(close(lo1, 10 / (10 + 1.96 ** 2)) && hi1 === 1, 'all right: lower n/(n+z^2)')
  const [a, b] = wilson(97, 100)
  t.ok(close(a, 0.91548) && close(b, 0.98975))
  t.same(wilson(0, 0), [0, 1], 'no sample: nothing known')
})

t.test('ties within noise: by each tier\'s spread for the same input', async (t) => {
  t.equal(robustSd([5]), 0)
  t.ok(close(robustSd([10, 12, 14, 16, 100]), 1.4826 * 2), 'MAD-based: the outlier barely counts')
  // Recorded 480 px frames (second round): the edge bimodal under its CPU quota, the cloud steady.
  const frames = [[112, 113], [63, 83], [31, 89], [105, 89], [140, 92], [98, 86]].map(([edge, cloud]) => ({ input: 'frame 480', measured: { edge: edge as number, cloud: cloud as number } }))
  // 960 px frames: the cloud clearly faster.
  const big = [[426, 194], [410, 190], [450, 200]].map(([edge, cloud]) => ({ input: 'frame 960', measured: { edge: edge as number, cloud: cloud as number } }))
  const ties = tiesWithinNoise([...frames, ...big], ['edge', 'cloud'])
  // edge sd: median 101.5, |dev| 10.5 38.5 70.5 3.5 38.5 3.5 -> MAD 24.5 -> 36.3; cloud sd: median 89, |dev| 24 6 0 0 3 3 -> MAD 3 -> 4.4
  t.same(ties.slice(0, 6), [true, true, false, true, false, true], 'within sqrt(36.3^2 + 4.4^2) = 36.6 ms of each other')
  t.same(ties.slice(6), [false, false, false], 'a 200 ms gap is no tie')
})

t.test('per-input ceiling: each input\'s most often fastest tier', async (t) => {
  const s = [
    { input: 'a', measured: { edge: 1, cloud: 2 } },
    { input: 'a', measured: { edge: 3, cloud: 2 } },
    { input: 'a', measured: { edge: 1, cloud: 2 } },
    { input: 'b', measured: { edge: 9, cloud: 2 } }
  ]
  t.equal(perInputCeiling(s), 3, 'a: edge 2 of 3; b: cloud 1 of 1')
})

t.test('self-agreement of repeated oracle runs, and the ceiling it implies', async (t) => {
  const s = [
    { first: { edge: 10, cloud: 20 }, second: { edge: 11, cloud: 19 } }, // agree: edge
    { first: { edge: 30, cloud: 20 }, second: { edge: 18, cloud: 21 } }, // disagree
    { first: { edge: 90, cloud: 20 }, second: { edge: 95, cloud: 22 } } // agree: cloud
  ]
  t.equal(selfAgreement(s), 2)
  // A coin-flip state (p = 0.5): agreement 0.5, nobody beats 50%.
  t.ok(close(ceilingFromAgreement(0.5).upper, 0.5))
  // p = 0.9 in every state: a = 0.81 + 0.01 = 0.82, best 0.9.
  t.ok(close(ceilingFromAgreement(0.82).upper, 0.9))
  t.ok(close(ceilingFromAgreement(0.82).lower, 0.82))
  // The 97% target needs agreement of 1 - 2 x 0.97 x 0.03.
  t.ok(close(ceilingFromAgreement(1 - 2 * 0.97 * 0.03).upper, 0.97))
  t.ok(ceilingFromAgreement(0.9).upper < 0.97, 'agreement 90%: no predictor reaches 97%')
  t.equal(ceilingFromAgreement(0.3).upper, 0.5, 'below chance agreement: clamped to the coin')
})

t.test('total-latency ceiling: choices made without the realization they are scored on', async (t) => {
  const s = [
    { input: 'a', first: { edge: 10, cloud: 20 }, second: { edge: 30, cloud: 20 } },
    { input: 'a', first: { edge: 12, cloud: 20 }, second: { edge: 14, cloud: 20 } },
    { input: 'b', first: { edge: 100, cloud: 50 }, second: { edge: 110, cloud: 40 } }
  ]
  // Realized oracle: 10 + 20 + 12 + 14 + 50 + 40 = 146.
  const c = totalCeiling(s, seededRandom(1), 500)
  // The other repetition's winner: sample 1 crosses (A -> cloud 20, B -> edge 30): 20 + 30 + 12 + 14 + 50 + 40.
  t.ok(close(c.crossRepeat.ratio, 166 / 146), `cross ${c.crossRepeat.ratio}`)
  // Leave-sample-out class means: sample 1 by sample 2 (edge 13 < 20), sample 2 by sample 1 (edge 20, cloud 20:
  // a tie keeps the first tier), b alone falls back to its other realization (cloud): 40 + 26 + 90.
  t.ok(close(c.classOut.ratio, 156 / 146), `class out ${c.classOut.ratio}`)
  // In sample: a's edge mean 16.5 < 20, b's cloud 45 < 105: the same choices here.
  t.ok(close(c.classIn.ratio, 156 / 146), `class in ${c.classIn.ratio}`)
  for (const e of [c.crossRepeat, c.classOut, c.classIn]) t.ok(e.low <= e.ratio + 1e-9 && e.ratio <= e.high + 1e-9 && e.low >= 1 - 1e-9, `interval ${e.low}-${e.high} around ${e.ratio}, never under 1`)

  // No noise: every choice is the realized winner, ratio 1 and interval [1, 1].
  const clean = Array.from({ length: 20 }, (_, k) => ({ input: k % 2 === 0 ? 'small' : 'big', first: k % 2 === 0 ? { edge: 10, cloud: 50 } : { edge: 400, cloud: 90 }, second: k % 2 === 0 ? { edge: 10, cloud: 50 } : { edge: 400, cloud: 90 } }))
  const one = totalCeiling(clean, seededRandom(2), 200)
  t.same([one.crossRepeat.ratio, one.classOut.low, one.classOut.high, one.classIn.ratio], [1, 1, 1, 1])

  // Two equal tiers with independent noise (uniform 50-150 ms): no choice beats a coin; E[X] / E[min] = 100 / 83.3 = 1.2.
  const r = seededRandom(3)
  const u = (): number => 50 + 100 * r()
  const noise = Array.from({ length: 400 }, () => ({ input: 'x', first: { edge: u(), cloud: u() }, second: { edge: u(), cloud: u() } }))
  const nc = totalCeiling(noise, seededRandom(4), 300)
  for (const e of [nc.crossRepeat, nc.classOut]) t.ok(e.ratio > 1.15 && e.ratio < 1.25 && e.low < 1.2 && e.high > 1.2, `pure noise: ${e.ratio} (${e.low}-${e.high})`)
  t.ok(Number.isNaN(totalCeiling([], seededRandom(5)).classOut.ratio), 'no samples: NaN')
})
