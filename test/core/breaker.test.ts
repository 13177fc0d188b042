// Semantics checked against knative/serving pkg/queue/breaker_test.go: capacity + bounded queue, FIFO hand-off,
// immediate rejection when the queue is full, capacity changes at run time, and cancellation while waiting.
import { getEventListeners } from 'node:events'
import t from 'tap'
import { abortWatchers } from '../../core/abortWatch.js'
import { Breaker } from '../../core/breaker.js'
import { IotlessError, isIotlessError } from '../../core/errors.js'

type State = 'pending' | 'resolved' | 'rejected'

interface Tracked { promise: Promise<void>; state: () => State; error: () => unknown }

function track (p: Promise<void>): Tracked {
  let state: State = 'pending'
  let error: unknown
  p.then(() => { state = 'resolved' }, (err: unknown) => { state = 'rejected'; error = err })
  return { promise: p, state: () => state, error: () => error }
}

/** Lets queued promise callbacks run; no timers involved. */
function flush (): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

t.test('constructor validates capacity and queueDepth', async (t) => {
  t.throws(() => new Breaker({ capacity: -1, queueDepth: 1 }), RangeError)
  t.throws(() => new Breaker({ capacity: 1, queueDepth: -1 }), RangeError)
  t.throws(() => new Breaker({ capacity: Number.NaN, queueDepth: 1 }), RangeError)
  t.throws(() => new Breaker({ capacity: 1, queueDepth: Number.NaN }), RangeError)
  const b = new Breaker({ capacity: 0, queueDepth: 0 })
  t.equal(b.capacity, 0)
  t.equal(b.queueDepth, 0)
  t.equal(b.inFlight, 0)
  t.equal(b.waiting, 0)
})

t.test('tryAcquire takes free slots up to capacity and never queues', async (t) => {
  const b = new Breaker({ capacity: 2, queueDepth: 5 })
  t.equal(b.tryAcquire(), true)
  t.equal(b.tryAcquire(), true)
  t.equal(b.tryAcquire(), false)
  t.equal(b.inFlight, 2)
  t.equal(b.waiting, 0)
  b.release()
  t.equal(b.inFlight, 1)
  t.equal(b.tryAcquire(), true)
})

t.test('acquire resolves at once while slots are free', async (t) => {
  const b = new Breaker({ capacity: 3, queueDepth: 0 })
  await b.acquire()
  await b.acquire()
  await b.acquire()
  t.equal(b.inFlight, 3)
})

t.test('capacity + queueDepth requests are held; one more is refused at once with BREAKER_QUEUE_FULL', async (t) => {
  // Knative TestBreakerOverload: with capacity c and queue q, c+q requests are accepted and the next fails.
  const b = new Breaker({ capacity: 2, queueDepth: 3 })
  const held = Array.from({ length: 5 }, () => track(b.acquire()))
  await flush()
  t.same(held.map((h) => h.state()), ['resolved', 'resolved', 'pending', 'pending', 'pending'])
  t.equal(b.inFlight, 2)
  t.equal(b.waiting, 3)

  const over = track(b.acquire())
  await flush()
  t.equal(over.state(), 'rejected', 'refused without waiting for a release')
  const err = over.error()
  t.ok(err instanceof IotlessError)
  t.ok(isIotlessError(err, 'BREAKER_QUEUE_FULL'))
  t.match((err as Error).message, /pending request queue full \(2 in flight, 3 queued\)/)
  t.equal(b.waiting, 3, 'the refused request did not join the queue')
  t.equal(b.tryAcquire(), false)
})

t.test('queueDepth 0: a request is refused as soon as every slot is busy', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 0 })
  await b.acquire()
  await t.rejects(b.acquire(), { code: 'BREAKER_QUEUE_FULL' })
  b.release()
  await b.acquire()
  t.equal(b.inFlight, 1)
})

t.test('waiters are served in FIFO order as slots are released', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 10 })
  await b.acquire()
  const order: number[] = []
  const waiters = [1, 2, 3, 4].map((n) => b.acquire().then(() => { order.push(n) }))
  await flush()
  t.same(order, [])
  for (let i = 0; i < 4; i++) {
    b.release()
    await flush()
    t.same(order, [1, 2, 3, 4].slice(0, i + 1), `release ${i + 1} lets exactly the oldest waiter in`)
    t.equal(b.inFlight, 1)
  }
  await Promise.all(waiters)
  b.release()
  t.equal(b.inFlight, 0)
})

t.test('tryAcquire does not jump the queue when a slot frees up', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 2 })
  t.equal(b.tryAcquire(), true)
  const w = track(b.acquire())
  b.release() // hands the slot straight to the waiter
  t.equal(b.tryAcquire(), false)
  await flush()
  t.equal(w.state(), 'resolved')
  t.equal(b.inFlight, 1)
})

t.test('release more than acquired throws and leaves the count at zero', async (t) => {
  const b = new Breaker({ capacity: 2, queueDepth: 2 })
  t.throws(() => b.release(), /released more times than acquired/)
  await b.acquire()
  b.release()
  t.throws(() => b.release(), /released more times than acquired/)
  t.equal(b.inFlight, 0)
})

t.test('setCapacity growing admits waiters in FIFO order, up to the new capacity', async (t) => {
  // Knative TestBreakerUpdateConcurrency / the activator growing capacity as pods become ready.
  const b = new Breaker({ capacity: 0, queueDepth: 10 })
  const order: number[] = []
  const ws = [1, 2, 3, 4, 5].map((n) => track(b.acquire().then(() => { order.push(n) })))
  await flush()
  t.equal(b.waiting, 5)
  b.setCapacity(2)
  await flush()
  t.same(order, [1, 2])
  t.equal(b.inFlight, 2)
  t.equal(b.waiting, 3)
  b.setCapacity(10)
  await flush()
  t.same(order, [1, 2, 3, 4, 5])
  t.equal(b.inFlight, 5)
  t.equal(b.waiting, 0)
  t.same(ws.map((w) => w.state()), Array(5).fill('resolved'))
})

t.test('setCapacity shrinking keeps in-flight work but admits nobody until below the new capacity', async (t) => {
  const b = new Breaker({ capacity: 3, queueDepth: 5 })
  await b.acquire(); await b.acquire(); await b.acquire()
  b.setCapacity(1)
  t.equal(b.capacity, 1)
  t.equal(b.inFlight, 3, 'nothing already running is cancelled')
  t.equal(b.tryAcquire(), false)
  const w = track(b.acquire())
  b.release()
  await flush()
  t.equal(w.state(), 'pending', '2 in flight, capacity 1')
  b.release()
  await flush()
  t.equal(w.state(), 'pending', '1 in flight, capacity 1')
  b.release()
  await flush()
  t.equal(w.state(), 'resolved', '0 in flight: the waiter goes in')
  t.equal(b.inFlight, 1)
  t.throws(() => b.setCapacity(-1), RangeError)
  t.throws(() => b.setCapacity(Number.NaN), RangeError)
  t.equal(b.capacity, 1, 'a rejected setCapacity changes nothing')
})

t.test('capacity Infinity never queues', async (t) => {
  const b = new Breaker({ capacity: Infinity, queueDepth: 0 })
  let taken = 0
  for (let i = 0; i < 1000; i++) if (b.tryAcquire()) taken++
  t.equal(taken, 1000)
  await b.acquire()
  t.equal(b.inFlight, 1001)
  t.equal(b.waiting, 0)
})

t.test('maxCapacity: a breaker growing from zero counts the capacity it will have (Knative totalSlots)', async (t) => {
  // breaker.go: totalSlots = queueDepth + maxConcurrency, and a request is refused when that many are pending
  // (in flight + queued). Without maxCapacity a pool at capacity 0 could queue only queueDepth requests.
  const b = new Breaker({ capacity: 0, queueDepth: 2, maxCapacity: 4 })
  const held = Array.from({ length: 6 }, () => track(b.acquire()))
  await flush()
  t.equal(b.waiting, 6, 'queueDepth + maxCapacity requests wait')
  t.ok(held.every((h) => h.state() === 'pending'))
  await t.rejects(b.acquire(), { code: 'BREAKER_QUEUE_FULL' }, 'one more is refused at once')
  b.setCapacity(4)
  await flush()
  t.equal(b.inFlight, 4)
  t.equal(b.waiting, 2)
  await t.rejects(b.acquire(), { code: 'BREAKER_QUEUE_FULL' }, 'still 6 pending in all')
  b.release()
  await flush()
  t.equal(b.inFlight, 4, 'the oldest waiter took the freed slot')
  t.equal(b.waiting, 1)
  const next = track(b.acquire())
  await flush()
  t.equal(next.state(), 'pending', 'a pending place freed up, so this one queues')

  const plain = new Breaker({ capacity: 0, queueDepth: 2 })
  track(plain.acquire()); track(plain.acquire())
  await t.rejects(plain.acquire(), { code: 'BREAKER_QUEUE_FULL' }, 'without maxCapacity, capacity is the maximum')

  const smaller = new Breaker({ capacity: 2, queueDepth: 1, maxCapacity: 1 })
  await smaller.acquire(); await smaller.acquire()
  track(smaller.acquire())
  await t.rejects(smaller.acquire(), { code: 'BREAKER_QUEUE_FULL' }, 'a maxCapacity below capacity is raised to it')
})

t.test('the limit counts in-flight and queued together, also when capacity shrank below in-flight', async (t) => {
  const b = new Breaker({ capacity: 2, queueDepth: 2 })
  await b.acquire(); await b.acquire()
  b.setCapacity(0)
  const w1 = track(b.acquire())
  const w2 = track(b.acquire())
  await t.rejects(b.acquire(), { code: 'BREAKER_QUEUE_FULL' }, '2 in flight + 2 queued = 4 pending')
  b.release()
  await flush()
  t.equal(w1.state(), 'pending', 'capacity 0 admits nobody')
  const w3 = track(b.acquire())
  await flush()
  t.equal(w3.state(), 'pending', 'the release made room for one more pending request')
  b.setCapacity(2)
  await flush()
  t.same([w1.state(), w2.state(), w3.state()], ['resolved', 'pending', 'pending'], '1 in flight + 1 admitted = capacity 2')
})

t.test('an already-aborted signal rejects at once with its reason and takes nothing', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 1 })
  const ac = new AbortController()
  const reason = new Error('client went away')
  ac.abort(reason)
  await t.rejects(b.acquire(ac.signal), reason)
  t.equal(b.inFlight, 0)
  t.equal(b.waiting, 0)

  const ac2 = new AbortController()
  ac2.abort('not an error')
  await t.rejects(b.acquire(ac2.signal), { message: 'aborted' })
})

t.test('abort while waiting rejects with the reason and leaves the queue', async (t) => {
  // Knative TestBreakerCancel: a cancelled waiter gives up its queue position and does not take a slot later.
  const b = new Breaker({ capacity: 1, queueDepth: 3 })
  await b.acquire()
  const ac = new AbortController()
  const first = track(b.acquire())
  const aborted = track(b.acquire(ac.signal))
  const third = track(b.acquire())
  await flush()
  t.equal(b.waiting, 3)
  const reason = new Error('deadline')
  ac.abort(reason)
  await flush()
  t.equal(aborted.state(), 'rejected')
  t.equal(aborted.error(), reason)
  t.equal(b.waiting, 2)
  b.release()
  await flush()
  t.equal(first.state(), 'resolved')
  t.equal(third.state(), 'pending')
  b.release()
  await flush()
  t.equal(third.state(), 'resolved', 'the aborted waiter was skipped, not handed a slot')
  t.equal(b.inFlight, 1)
})

t.test('abort with a non-Error reason rejects with a generic Error', async (t) => {
  const b = new Breaker({ capacity: 0, queueDepth: 1 })
  const ac = new AbortController()
  const w = track(b.acquire(ac.signal))
  ac.abort('string reason')
  await flush()
  t.equal(w.state(), 'rejected')
  t.match(w.error(), { message: 'aborted' })
  t.equal(b.waiting, 0)
})

t.test('aborting after the slot was granted does nothing', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 1 })
  await b.acquire()
  const ac = new AbortController()
  const w = track(b.acquire(ac.signal))
  b.release()
  await flush()
  t.equal(w.state(), 'resolved')
  ac.abort(new Error('late'))
  await flush()
  t.equal(w.state(), 'resolved')
  t.equal(b.inFlight, 1, 'the granted slot stays held until release()')
  t.equal(b.waiting, 0)
})

t.test('a freed queue position can be taken by a new request', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 1 })
  await b.acquire()
  const ac = new AbortController()
  const w = track(b.acquire(ac.signal))
  await t.rejects(b.acquire(), { code: 'BREAKER_QUEUE_FULL' })
  ac.abort(new Error('gone'))
  await flush()
  t.equal(w.state(), 'rejected')
  const again = track(b.acquire())
  await flush()
  t.equal(again.state(), 'pending', 'queued, not refused')
  t.equal(b.waiting, 1)
})

t.test('rejectWaiting rejects every waiter with the error and keeps in-flight work', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 5 })
  await b.acquire()
  const ac = new AbortController()
  const ws = [track(b.acquire()), track(b.acquire(ac.signal)), track(b.acquire())]
  await flush()
  const shutdown = new Error('shutting down')
  b.rejectWaiting(shutdown)
  await flush()
  t.same(ws.map((w) => w.state()), ['rejected', 'rejected', 'rejected'])
  t.ok(ws.every((w) => w.error() === shutdown))
  t.equal(b.waiting, 0)
  t.equal(b.inFlight, 1)
  ac.abort(new Error('after'))
  t.equal(b.waiting, 0)
  b.release()
  t.equal(b.inFlight, 0, 'no rejected waiter was handed the freed slot')
  b.rejectWaiting(new Error('nothing to reject'))
  t.equal(b.waiting, 0)
})

t.test('the abort watch is removed once a waiter is granted or rejected', async (t) => {
  // Long-lived signals (e.g. a server-wide shutdown signal) must not accumulate listeners: the queued acquires
  // share one listener on the signal (core/abortWatch.ts) and each leaves its watch when granted or rejected.
  const b = new Breaker({ capacity: 1, queueDepth: 10 })
  const ac = new AbortController()
  await b.acquire(ac.signal)
  t.equal(abortWatchers(ac.signal), 0, 'an acquire that gets a slot at once does not watch')
  const a = b.acquire(ac.signal)
  const c = b.acquire(ac.signal)
  t.equal(abortWatchers(ac.signal), 2, 'only queued acquires watch')
  t.equal(getEventListeners(ac.signal, 'abort').length, 1, 'one listener on the signal for both')
  b.release()
  await a
  t.equal(abortWatchers(ac.signal), 1, 'the granted one left')
  b.rejectWaiting(new Error('x'))
  await t.rejects(c)
  t.equal(abortWatchers(ac.signal), 0, 'the rejected one left')
  for (let i = 0; i < 100; i++) {
    const w = b.acquire(ac.signal)
    b.release()
    await w
  }
  t.equal(getEventListeners(ac.signal, 'abort').length, 1, '100 more waiters later: still one listener')
  t.equal(abortWatchers(ac.signal), 0)
})

t.test('enqueue: callback waiters share the FIFO with acquire(), hold the slot when called, and can leave', async (t) => {
  const b = new Breaker({ capacity: 1, queueDepth: 2 })
  t.ok(b.tryAcquire())
  const order: string[] = []
  const cancelA = b.enqueue(() => order.push('a'))
  const p = b.acquire().then(() => order.push('p'))
  t.equal(b.waiting, 2)
  t.equal(b.enqueue(() => order.push('x')), null, 'full: refused at once, nothing queued')
  t.equal(b.waiting, 2)
  b.release()
  t.same(order, ['a'], 'called synchronously from release, first in line')
  t.equal(b.inFlight, 1, 'with the slot held')
  b.release()
  await p
  t.same(order, ['a', 'p'])
  b.release()
  t.equal(b.inFlight, 0)
  t.ok(b.tryAcquire())
  const cancelB = b.enqueue(() => order.push('b'))
  t.type(cancelB, 'function')
  cancelB?.()
  t.equal(b.waiting, 0, 'cancelled waiters leave the queue')
  b.release()
  t.same(order, ['a', 'p'], 'and are never called')
  cancelA?.()
  t.equal(b.inFlight, 0)
})
