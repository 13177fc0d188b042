// One listener per shared signal, however many wait on it (core/abortWatch.ts), and the waiters that use it:
// the breaker, the guaranteed breaker, the retry backoff. No sockets; the clock is manual.
import { getEventListeners } from 'node:events'
import t from 'tap'
import { abortWatchers, watchAbort } from '../../core/abortWatch.js'
import { Breaker } from '../../core/breaker.js'
import { ManualClock } from '../../core/clock.js'
import { RetryingTarget } from '../../adapters/ingress/retryingTarget.js'
import type { DispatchResult, OutgoingEvent, Target } from '../../adapters/target.js'

const listeners = (s: AbortSignal): number => getEventListeners(s, 'abort').length
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('watchAbort: one listener for many watchers, each called once in order, a stopped one not at all', async (t) => {
  const c = new AbortController()
  const calls: number[] = []
  const stops = Array.from({ length: 1000 }, (_, i) => watchAbort(c.signal, () => { calls.push(i) }))
  t.equal(listeners(c.signal), 1, 'one listener on the signal for 1,000 watchers')
  t.equal(abortWatchers(c.signal), 1000)
  for (let i = 0; i < 1000; i += 2) (stops[i] as () => void)()
  t.equal(abortWatchers(c.signal), 500, 'stopping a watch takes it out')
  c.abort()
  t.same(calls, Array.from({ length: 500 }, (_, i) => 2 * i + 1), 'the rest called once each, in the order they were added')
  c.abort()
  t.equal(calls.length, 500, 'a second abort calls nothing')
  t.equal(abortWatchers(c.signal), 0)
  let late = 0
  watchAbort(c.signal, () => { late++ })
  t.equal(late, 0, 'as addEventListener: nothing is called for a signal already aborted')
})

t.test('watchAbort: a watcher that stops another during the abort; the same function twice is called once', async (t) => {
  const c = new AbortController()
  const calls: string[] = []
  let stopB = (): void => {}
  watchAbort(c.signal, () => { calls.push('a'); stopB() })
  stopB = watchAbort(c.signal, () => { calls.push('b') })
  const f = (): void => { calls.push('f') }
  watchAbort(c.signal, f)
  watchAbort(c.signal, f)
  c.abort()
  t.same(calls, ['a', 'f'])
})

t.test('breaker: 2,000 waiters on the shared stop signal add one listener; abort rejects them all, in order', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 5000 })
  const stop = new AbortController()
  await b.acquire(stop.signal)
  const order: number[] = []
  const waiting = Array.from({ length: 2000 }, (_, i) => b.acquire(stop.signal).then(() => 'slot', () => { order.push(i); return 'aborted' }))
  t.equal(listeners(stop.signal), 1, 'one listener, not 2,000')
  b.release()
  await flush()
  t.equal(abortWatchers(stop.signal), 1999, 'the waiter that got the slot no longer watches')
  stop.abort(new Error('stopping'))
  const got = await Promise.all(waiting)
  t.equal(got[0], 'slot')
  t.equal(got.filter((g) => g === 'aborted').length, 1999)
  t.same(order, Array.from({ length: 1999 }, (_, i) => i + 1), 'rejected in FIFO order')
  t.equal(b.waiting, 0)
})

t.test('retry backoff: 500 messages waiting out a backoff add one listener to the stop signal; stopping ends every wait', async (t) => {
  const clock = new ManualClock(0)
  const stop = new AbortController()
  const busy: DispatchResult = { status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: 'HTTP 503', httpStatus: 503 }
  const target: Target = { kind: 'test', async dispatch () { return busy }, async close () {} }
  const r = new RetryingTarget(target, { maxAttempts: 3, baseMs: 1000, clock, random: () => 0, stopRetrying: stop.signal })
  const event: OutgoingEvent = { attributes: { specversion: '1.0', id: '1', source: 's', type: 't' }, data: Buffer.from('x') }
  const runs = Array.from({ length: 500 }, () => r.dispatch('f', event))
  await flush()
  t.equal(abortWatchers(stop.signal), 500, 'all 500 in backoff')
  t.equal(listeners(stop.signal), 1, 'one listener, not 500')
  stop.abort()
  const res = await Promise.all(runs)
  t.ok(res.every((x) => x.interrupted && x.attempts === 1), 'each interrupted after its first attempt')
  t.equal(abortWatchers(stop.signal), 0)
  t.equal(clock.pendingTimers, 0, 'their timers cleared')
})
