import t from 'tap'
import { binomialHalfCdf, bootstrapMedianInterval, median, pairedRatios, signTestBelow, signTestInterval, summariseRatios } from '../../bench/pairedRatio.js'
import { seededRandom } from '../../core/seededRandom.js'

const close = (a: number, b: number, eps = 1e-9): boolean => Math.abs(a - b) < eps

t.test('median: odd, even, none', async (t) => {
  t.equal(median([3, 1, 2]), 2)
  t.equal(median([4, 1, 3, 2]), 2.5)
  t.ok(Number.isNaN(median([])))
})

t.test('binomialHalfCdf: closed forms and the tail past 2^-1074', async (t) => {
  t.ok(close(binomialHalfCdf(0, 5), 1 / 32))
  t.ok(close(binomialHalfCdf(2, 5), 16 / 32))
  t.ok(close(binomialHalfCdf(5, 20), 21700 / 1048576), 'P(B<=5), n=20: (1+20+190+1140+4845+15504)/2^20')
  t.equal(binomialHalfCdf(-1, 10), 0)
  t.equal(binomialHalfCdf(10, 10), 1)
  const big = binomialHalfCdf(600, 1200)
  t.ok(big > 0.5 && big < 0.52, `n = 1200 still sums: ${big}`)
})

t.test('signTestInterval: the order statistics the binomial picks, and none for too few rounds', async (t) => {
  t.equal(signTestInterval([1, 2, 3, 4, 5]), undefined, 'n = 5: even [min, max] covers only 93.75%')
  const six = signTestInterval([6, 1, 5, 2, 4, 3])
  t.same([six?.low, six?.high], [1, 6], 'n = 6: min and max')
  t.ok(close(six?.coverage as number, 1 - 2 / 64))
  const xs = Array.from({ length: 20 }, (_, i) => 20 - i) // 20 .. 1
  const s = signTestInterval(xs)
  // n = 20: k = 6 (2 P(B <= 5) = 0.0414 <= 0.05; 2 P(B <= 6) = 0.115 > 0.05): [x(6), x(15)].
  t.same([s?.low, s?.high], [6, 15])
  t.ok(close(s?.coverage as number, 1 - 2 * 21700 / 1048576))
  t.ok((s?.coverage as number) >= 0.95)
})

t.test('signTestBelow: how unlikely so many rounds below the limit are if the median were at it', async (t) => {
  const all = signTestBelow([1.01, 1.02, 1.0, 0.99, 1.03, 1.04, 1.0, 1.02], 1.05)
  t.equal(all.below, 8)
  t.ok(close(all.p, 1 / 256), 'every one of 8 below: 2^-8')
  const half = signTestBelow([1.0, 1.1, 1.0, 1.1], 1.05)
  t.equal(half.below, 2)
  t.ok(close(half.p, 11 / 16), 'P(B >= 2), n = 4')
  t.equal(signTestBelow([1.05, 1.05], 1.05).below, 0, 'at the limit is not below it')
  t.equal(signTestBelow([1.2, 1.3], 1.05).p, 1)
})

t.test('bootstrap: reproducible with a seed, inside the data, around the median', async (t) => {
  const r = seededRandom(7)
  const xs = Array.from({ length: 40 }, () => 1 + (r() - 0.5) * 0.2)
  const a = bootstrapMedianInterval(xs, seededRandom(1), 2000)
  const b = bootstrapMedianInterval(xs, seededRandom(1), 2000)
  t.same(a, b, 'same seed, same interval')
  const m = median(xs)
  t.ok(a.low <= m && m <= a.high, `${a.low} <= ${m} <= ${a.high}`)
  t.ok(a.low >= Math.min(...xs) && a.high <= Math.max(...xs))
  t.ok(a.high - a.low < 0.1, 'narrower than the spread of the data')
  const same = bootstrapMedianInterval([2, 2, 2], seededRandom(3), 100)
  t.same(same, { low: 2, high: 2 })
})

t.test('seededRandom: uniform enough on [0, 1)', async (t) => {
  const r = seededRandom(42)
  let sum = 0
  let min = 1
  let max = 0
  for (let i = 0; i < 10_000; i++) { const x = r(); sum += x; min = Math.min(min, x); max = Math.max(max, x) }
  t.ok(min >= 0 && max < 1)
  t.ok(Math.abs(sum / 10_000 - 0.5) < 0.02, `mean ${sum / 10_000}`)
})

t.test('pairedRatios and summariseRatios: round by round, then the decision against the limit', async (t) => {
  t.same(pairedRatios([2, 3, 4], [1, 2]), [2, 1.5], 'only the rounds both have')
  const ratios = [1.01, 1.03, 0.98, 1.02, 1.0, 1.04, 1.01, 0.99, 1.02, 1.03]
  const s = summariseRatios(ratios, 1.05)
  t.equal(s.n, 10)
  t.ok(close(s.median, 1.015))
  t.ok(s.sign !== undefined && s.sign.high < 1.05, 'the whole interval below 1.05')
  t.ok(s.belowLimit.p < 0.01)
  const noisy = summariseRatios([0.9, 1.2, 1.0, 1.15, 0.95, 1.3, 1.1, 0.85], 1.05)
  t.ok(noisy.sign !== undefined && noisy.sign.high > 1.05, 'a noisy set does not clear it')
})
