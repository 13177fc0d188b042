import t from 'tap'
import { jainIndex, waterFill } from '../../adapters/runtime/capacity/fairShare.js'

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
