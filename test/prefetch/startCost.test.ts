import t from 'tap'
import { StartCost } from '../../adapters/runtime/startCost.js'

t.test('a start costs the longest of the last finished starts and of those under way', (t) => {
  const c = new StartCost(2)
  t.equal(c.estimateMs(0), 0, 'nothing known: 0')
  c.begin(1, 1000)
  t.equal(c.estimateMs(1500), 500, 'one under way for 500 ms: at least 500')
  c.end(1, 4000)
  t.equal(c.estimateMs(9000), 3000, 'finished: its 3000 ms')
  c.begin(2, 9000)
  t.equal(c.estimateMs(20_000), 11_000, 'one under way longer than any finished one sets it')
  c.end(2, 9100)
  t.equal(c.estimateMs(20_000), 3000, 'back to the longest finished one')
  c.begin(3, 0); c.end(3, 100)
  t.equal(c.estimateMs(20_000), 100, 'the window (2) forgets the 3000 ms start: the machine is fast again')
  c.end(99, 5)
  t.equal(c.estimateMs(20_000), 100, 'an unknown id is ignored')
  t.throws(() => new StartCost(0), RangeError)
  t.end()
})
