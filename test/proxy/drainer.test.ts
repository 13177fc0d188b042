import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { Drainer } from '../../proxy/drainer.js'

t.test('drain resolves after a quiet period with no requests', async (t) => {
  const clock = new ManualClock()
  const d = new Drainer(clock, 30_000)
  t.equal(d.draining, false)
  let done = false
  void d.drain().then(() => { done = true })
  t.equal(d.draining, true)
  clock.advance(29_999)
  await Promise.resolve()
  t.equal(done, false)
  clock.advance(1)
  await Promise.resolve()
  t.equal(done, true)
})

t.test('each request restarts the quiet period', async (t) => {
  const clock = new ManualClock()
  const d = new Drainer(clock, 1000)
  let done = false
  void d.drain().then(() => { done = true })
  clock.advance(800)
  d.lastRequestMs = clock.now()
  clock.advance(900)
  await Promise.resolve()
  t.equal(done, false, '900 ms after the last request')
  clock.advance(100)
  await Promise.resolve()
  t.equal(done, true)
  t.equal(d.draining, true, 'stays draining after the wait')
})

t.test('concurrent drain calls share one wait; reset un-drains and releases waiters', async (t) => {
  const clock = new ManualClock()
  const d = new Drainer(clock, 1000)
  t.equal(d.drain(), d.drain())
  let released = false
  void d.drain().then(() => { released = true })
  d.reset()
  await Promise.resolve()
  t.equal(released, true)
  t.equal(d.draining, false)
  t.equal(clock.pendingTimers, 0)
})
