import t from 'tap'
import { ManualClock, systemClock } from '../../core/clock.js'

t.test('ManualClock starts where told and only moves on advance', async (t) => {
  t.equal(new ManualClock().now(), 0)
  const c = new ManualClock(1000)
  t.equal(c.now(), 1000)
  c.advance(250)
  t.equal(c.now(), 1250)
  c.advance(0)
  t.equal(c.now(), 1250)
})

t.test('a timer fires when its time is reached, not before', async (t) => {
  const c = new ManualClock()
  const fired: number[] = []
  c.setTimeout(() => fired.push(c.now()), 100)
  c.advance(99)
  t.same(fired, [])
  t.equal(c.pendingTimers, 1)
  c.advance(1)
  t.same(fired, [100], 'fires with now() equal to its due time')
  t.equal(c.pendingTimers, 0)
  c.advance(1000)
  t.same(fired, [100], 'fires once')
})

t.test('timers fire in due order, and now() reads each one\'s due time as it fires', async (t) => {
  const c = new ManualClock(10)
  const fired: Array<[string, number]> = []
  c.setTimeout(() => fired.push(['c', c.now()]), 300)
  c.setTimeout(() => fired.push(['a', c.now()]), 100)
  c.setTimeout(() => fired.push(['b', c.now()]), 200)
  c.advance(1000)
  t.same(fired, [['a', 110], ['b', 210], ['c', 310]])
  t.equal(c.now(), 1010, 'ends at the target time')
})

t.test('timers due at the same time fire in creation order', async (t) => {
  const c = new ManualClock()
  const fired: string[] = []
  for (const name of ['first', 'second', 'third', 'fourth']) c.setTimeout(() => fired.push(name), 50)
  c.advance(50)
  t.same(fired, ['first', 'second', 'third', 'fourth'])
})

t.test('a negative or zero delay fires on the next advance, even advance(0)', async (t) => {
  const c = new ManualClock(5)
  const fired: string[] = []
  c.setTimeout(() => fired.push('neg'), -10)
  c.setTimeout(() => fired.push('zero'), 0)
  t.same(fired, [], 'never synchronously inside setTimeout')
  c.advance(0)
  t.same(fired, ['neg', 'zero'])
  t.equal(c.now(), 5)
})

t.test('clearTimeout cancels only that timer; undefined and unknown handles are ignored', async (t) => {
  const c = new ManualClock()
  const fired: string[] = []
  const a = c.setTimeout(() => fired.push('a'), 10)
  c.setTimeout(() => fired.push('b'), 10)
  c.clearTimeout(a)
  c.clearTimeout(undefined)
  c.clearTimeout({ id: -42 })
  t.equal(c.pendingTimers, 1)
  c.advance(10)
  t.same(fired, ['b'])
  c.clearTimeout(a) // clearing twice is harmless
  t.equal(c.pendingTimers, 0)
})

t.test('handles are unique across timers', async (t) => {
  const c = new ManualClock()
  const ids = new Set<number>()
  for (let i = 0; i < 100; i++) ids.add(c.setTimeout(() => undefined, i).id)
  t.equal(ids.size, 100)
})

t.test('timers set by a firing timer fire in the same advance if they fall due', async (t) => {
  const c = new ManualClock()
  const fired: Array<[string, number]> = []
  c.setTimeout(() => {
    fired.push(['outer', c.now()])
    c.setTimeout(() => fired.push(['inner', c.now()]), 30)
    c.setTimeout(() => fired.push(['late', c.now()]), 500)
  }, 50)
  c.advance(100)
  t.same(fired, [['outer', 50], ['inner', 80]])
  t.equal(c.pendingTimers, 1, 'the timer beyond the target waits')
  c.advance(450)
  t.same(fired, [['outer', 50], ['inner', 80], ['late', 550]])
})

t.test('a timer can cancel another that is due in the same advance', async (t) => {
  const c = new ManualClock()
  const fired: string[] = []
  let victim = c.setTimeout(() => fired.push('victim'), 20)
  c.setTimeout(() => { fired.push('killer'); c.clearTimeout(victim) }, 10)
  c.advance(30)
  t.same(fired, ['killer'])
  victim = c.setTimeout(() => fired.push('victim2'), 5)
  c.advance(5)
  t.same(fired, ['killer', 'victim2'])
})

t.test('a repeating timer (re-armed from its callback) fires once per period', async (t) => {
  const c = new ManualClock()
  const ticks: number[] = []
  const tick = (): void => { ticks.push(c.now()); c.setTimeout(tick, 100) }
  c.setTimeout(tick, 100)
  c.advance(350)
  t.same(ticks, [100, 200, 300])
  t.equal(c.now(), 350)
})

t.test('systemClock wraps the real timers', async (t) => {
  const before = Date.now()
  const now = systemClock.now()
  t.ok(now >= before && now <= Date.now())
  let fired = false
  const h = systemClock.setTimeout(() => { fired = true }, 60_000)
  t.type(h.id, 'number')
  systemClock.clearTimeout(h)
  systemClock.clearTimeout(undefined)
  t.equal(fired, false)
})
