import t from 'tap'
import { SpanList } from '../../proxy/spanList.js'

t.test('SpanList: push, grow past its store, sort, add once, clear', async (t) => {
  const l = new SpanList()
  for (let i = 40; i > 0; i--) l.push(i * 10, i * 10 + 5)
  t.equal(l.size, 40, 'grew past its 8 spans')
  t.equal(l.start(0), 400)
  l.sort()
  t.same([l.start(0), l.end(0), l.start(39), l.end(39)], [10, 15, 400, 405], 'sorted by start, ends with their starts')
  l.clear()
  t.equal(l.size, 0)
  l.push(5, 9)
  l.addOnce([5, 9, 1, 3, 5, 9])
  t.same(l.toArray(), [5, 9, 1, 3], 'a start already there is not added again')
  l.sort()
  t.same(l.toArray(), [1, 3, 5, 9])
})
