import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { isIotlessError } from '../../core/errors.js'
import { GuaranteedBreaker } from '../../adapters/runtime/capacity/guaranteedBreaker.js'
import { GuaranteeGate } from '../../adapters/runtime/capacity/guaranteeGate.js'

type State = 'pending' | 'resolved' | 'rejected'

function track (p: Promise<void>): { state: () => State; error: () => unknown } {
  let state: State = 'pending'
  let error: unknown
  p.then(() => { state = 'resolved' }, (err: unknown) => { state = 'rejected'; error = err })
  return { state: () => state, error: () => error }
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

t.test('without admitted traffic or a reservation it is a FIFO breaker', async (t) => {
  const b = new GuaranteedBreaker({ capacity: 1, maxCapacity: 1, queueDepth: 2, reservedSlots: 0 })
  const first = track(b.acquire(false))
  const second = track(b.acquire(false))
  const third = track(b.acquire(false))
  const fourth = track(b.acquire(false))
  await flush()
  t.same([first.state(), second.state(), third.state(), fourth.state()], ['resolved', 'pending', 'pending', 'rejected'])
  t.ok(isIotlessError(fourth.error()) && fourth.error() !== undefined)
  b.release(false)
  await flush()
  t.equal(second.state(), 'resolved')
  t.equal(third.state(), 'pending')
})

t.test('a freed slot goes to the oldest admitted waiter before any overflow waiter', async (t) => {
  const b = new GuaranteedBreaker({ capacity: 1, maxCapacity: 1, queueDepth: 10, reservedSlots: 0 })
  await b.acquire(false)
  const over1 = track(b.acquire(false))
  const over2 = track(b.acquire(false))
  const adm1 = track(b.acquire(true))
  const adm2 = track(b.acquire(true))
  b.release(false)
  await flush()
  t.same([adm1.state(), adm2.state(), over1.state(), over2.state()], ['resolved', 'pending', 'pending', 'pending'])
  b.release(true)
  await flush()
  t.equal(adm2.state(), 'resolved', 'admitted FIFO among themselves')
  t.equal(over1.state(), 'pending')
  b.release(true)
  await flush()
  t.equal(over1.state(), 'resolved', 'overflow once no admitted request waits')
  t.equal(b.admittedInFlight, 0)
})

t.test('overflow may not take the reserved slots; admitted may take any', async (t) => {
  const b = new GuaranteedBreaker({ capacity: 3, maxCapacity: 4, queueDepth: 10, reservedSlots: 1 })
  await b.acquire(false)
  await b.acquire(false)
  const over = track(b.acquire(false))
  await flush()
  t.equal(over.state(), 'pending', 'the third slot is the reservation')
  const adm = track(b.acquire(true))
  await flush()
  t.equal(adm.state(), 'resolved', 'an admitted request starts at once in the reserved slot')
  const adm2 = track(b.acquire(true))
  b.release(false)
  await flush()
  t.equal(adm2.state(), 'resolved', 'a burst above the reservation spills into a shared slot')
  t.equal(over.state(), 'pending')
  b.release(true)
  b.release(true)
  await flush()
  t.equal(over.state(), 'resolved', 'with no admitted request in flight overflow gets capacity - reservation')
  t.equal(b.inFlight, 2)
  b.setCapacity(4)
  const over2 = track(b.acquire(false))
  await flush()
  t.equal(over2.state(), 'resolved', 'a grown pool lets more overflow in')
  b.setReservedSlots(0)
  t.equal(b.reservedSlots, 0)
})

t.test('overflow filling the queue never refuses an admitted request', async (t) => {
  const b = new GuaranteedBreaker({ capacity: 1, maxCapacity: 1, queueDepth: 2, reservedSlots: 1 })
  const overs = [track(b.acquire(false)), track(b.acquire(false)), track(b.acquire(false)), track(b.acquire(false))]
  await flush()
  t.same(overs.map((o) => o.state()), ['pending', 'pending', 'pending', 'rejected'], 'the reserved slot is not overflow\'s; queue of 1 + 2')
  const adm = track(b.acquire(true))
  await flush()
  t.equal(adm.state(), 'resolved')
  const capped = new GuaranteedBreaker({ capacity: 0, maxCapacity: 1, queueDepth: 5, reservedSlots: 0, admittedQueueDepth: 1 })
  const a1 = track(capped.acquire(true))
  const a2 = track(capped.acquire(true))
  await flush()
  t.same([a1.state(), a2.state()], ['pending', 'rejected'], 'admitted are bounded by their own depth')
  t.match(String((a2.error() as Error).message), /admitted/)
})

t.test('an abort takes the waiter out of its queue, and rejectWaiting fails both queues', async (t) => {
  const b = new GuaranteedBreaker({ capacity: 1, maxCapacity: 1, queueDepth: 5, reservedSlots: 0 })
  await b.acquire(false)
  const ac = new AbortController()
  const adm = track(b.acquire(true, ac.signal))
  const over = track(b.acquire(false))
  ac.abort(new Error('gone'))
  await flush()
  t.equal(adm.state(), 'rejected')
  t.equal(b.admittedWaiting, 0)
  b.release(false)
  await flush()
  t.equal(over.state(), 'resolved', 'the aborted admitted waiter no longer blocks overflow')
  const w1 = track(b.acquire(true))
  const w2 = track(b.acquire(false))
  b.rejectWaiting(new Error('closing'))
  await flush()
  t.same([w1.state(), w2.state()], ['rejected', 'rejected'])
  t.throws(() => { b.release(true) }, /admitted slot released/)
  t.throws(() => new GuaranteedBreaker({ capacity: -1, maxCapacity: 1, queueDepth: 1, reservedSlots: 0 }), RangeError)
})

/**
 * The guarantee's claim, on a simulated clock: a function with one reserved instance (concurrency 1, 50 ms per
 * invocation) and a guarantee of 5/s (burst 1) is offered its guarantee in a steady stream plus 10x that as its
 * own overflow. With the admission breaker every admitted invocation waits <= 100 ms; in one shared FIFO (today's
 * pool) most of them wait behind the overflow.
 */
async function waits (priority: boolean): Promise<{ admitted: number[]; overflowServed: number }> {
  const clock = new ManualClock(0)
  const gate = new GuaranteeGate({ ratePerSec: 5, burst: 1 })
  // Two instances: one is the guarantee's reservation, one serves the overflow.
  const b = new GuaranteedBreaker({ capacity: 2, maxCapacity: 2, queueDepth: 1000, reservedSlots: priority ? 1 : 0 })
  const admittedWaits: number[] = []
  let overflowServed = 0
  let pending = 0
  // In 1-ms steps, letting the promise callbacks of each step run before the next.
  for (let ms = 0; ms < 10_000 || pending > 0; ms++) {
    if (ms > 60_000) break
    clock.advance(ms - clock.now())
    const within = ms < 10_000 && ms % 200 === 0
    const over = ms < 10_000 && ms % 20 === 7
    if (within || over) {
      const admitted = within && gate.admit(ms)
      pending++
      void b.acquire(priority ? admitted : false).then(() => {
        if (admitted) admittedWaits.push(clock.now() - ms)
        else overflowServed++
        clock.setTimeout(() => { pending--; b.release(priority ? admitted : false) }, 50)
      })
    }
    await flush()
  }
  return { admitted: admittedWaits, overflowServed }
}

t.test('within the guarantee: served within the SLO while the function\'s own overflow is 10x; a shared FIFO is not', async (t) => {
  const ours = await waits(true)
  const fifo = await waits(false)
  t.equal(ours.admitted.length, 50, 'every admitted invocation served')
  t.ok(ours.admitted.every((w) => w <= 100), `admitted waits, max ${Math.max(...ours.admitted)} ms`)
  t.ok(ours.overflowServed > 0, 'overflow still served, best effort')
  const fifoMissed = fifo.admitted.filter((w) => w > 100).length
  t.ok(fifoMissed > 25, `in one FIFO ${fifoMissed} of ${fifo.admitted.length} admitted invocations waited > 100 ms`)
})
