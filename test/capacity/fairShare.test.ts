import t from 'tap'
import { jainIndex, quantize, waterFill } from '../../adapters/runtime/capacity/fairShare.js'

const d = (want: number, weight = 8, reserved = 0) => ({ want, weight, reserved })

t.test('water-filling: what fits is given, the rest shared by weight', async (t) => {
  t.same(waterFill(10, [d(2), d(3)]), [2, 3], 'under capacity everyone gets their want')
  t.same(waterFill(10, [d(2), d(20), d(20)]), [2, 4, 4], 'the small one is satisfied, the others split the rest')
  const w = waterFill(12, [d(20, 8), d(20, 16)])
  t.ok(Math.abs((w[0] ?? 0) - 4) < 1e-9 && Math.abs((w[1] ?? 0) - 8) < 1e-9, 'weights 8:16 give 4:8')
  t.same(waterFill(6, [d(1, 256), d(10, 1)]), [1, 5], 'a heavy function only takes what it wants')
  t.same(waterFill(8, [d(0), d(0)]), [0, 0])
})

t.test('reserved units come first', async (t) => {
  const a = waterFill(10, [d(4, 1, 4), d(50, 256)])
  t.equal(a[0], 4, 'the guarantee holds against a weight-256 hog')
  t.equal(a[1], 6)
  const shrunk = waterFill(4, [d(4, 8, 4), d(4, 8, 4)])
  t.same(shrunk, [2, 2], 'reservations past the box are scaled down in proportion')
})

t.test('Jain index', async (t) => {
  t.equal(jainIndex([1, 1, 1, 1]), 1)
  t.ok(Math.abs(jainIndex([1, 0, 0, 0]) - 0.25) < 1e-12)
  t.equal(jainIndex([]), 1)
})

t.test('quantize: a box smaller than one instance each still runs whole (deflated) instances, in turn', async (t) => {
  const demands = Array.from({ length: 10 }, () => d(1))
  const filled = waterFill(2, demands)
  t.ok(filled.every((a) => Math.abs(a - 0.2) < 1e-9), 'water-filling alone gives 0.2 each: not one instance anywhere')
  const q0 = quantize(filled, demands, 2, 0.5, 0)
  t.equal(q0.filter((a) => a === 0.5).length, 4, 'four functions get a half-CPU instance')
  t.ok(Math.abs(q0.reduce((s, a) => s + a, 0) - 2) < 1e-9, 'within the box')
  const q1 = quantize(filled, demands, 2, 0.5, 3)
  t.not(q1.join(','), q0.join(','), 'the next share picks others')
  t.same(quantize([2.7, 1.3], [d(3), d(2)], 4, 0.5), [2.5, 1.5], 'remainders decide who gets the last half')
})
