// RequestAborts with an injected clock: the caller's abort reaches every open request through one listener,
// deadlines fire in order from one timer, and a closed request is reached by neither.
import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { RequestAborts, RequestSignal } from '../../adapters/targets/requestAborts.js'

function listened (s: RequestSignal): { calls: number } {
  const seen = { calls: 0 }
  s.addEventListener('abort', () => { seen.calls++ })
  return seen
}

t.test('the caller aborts: every open request, once, with its reason; one listener on the caller', async (t) => {
  const aborts = new RequestAborts(undefined, new ManualClock())
  const stop = new AbortController()
  let added = 0
  const add = stop.signal.addEventListener.bind(stop.signal)
  stop.signal.addEventListener = ((...a: Parameters<typeof add>) => { added++; add(...a) }) as typeof add
  const open = Array.from({ length: 500 }, () => aborts.open(stop.signal))
  const closed = open[7] as RequestSignal
  aborts.close(closed)
  const seen = open.map(listened)
  t.equal(added, 1, 'one listener on the shared signal for 500 requests')
  t.same(aborts.size, { bySignal: 499, queued: 0 })
  const why = new Error('adapter stopped')
  stop.abort(why)
  t.equal(seen.filter((s) => s.calls === 1).length, 499, 'each open request aborted once')
  t.equal(seen[7]?.calls, 0, 'a closed request is not aborted')
  t.equal(open[0]?.reason, why)
  t.equal(open[0]?.timedOut, false)
  t.same(aborts.size, { bySignal: 0, queued: 0 })
  const late = aborts.open(stop.signal)
  t.equal(late.aborted, true, 'opened on an aborted signal: aborted at once')
  t.equal(late.reason, why)
})

t.test('the last request closes: the listener on the caller is removed, and added again for the next', async (t) => {
  const aborts = new RequestAborts(undefined, new ManualClock())
  const stop = new AbortController()
  let live = 0
  const add = stop.signal.addEventListener.bind(stop.signal)
  const remove = stop.signal.removeEventListener.bind(stop.signal)
  stop.signal.addEventListener = ((...a: Parameters<typeof add>) => { live++; add(...a) }) as typeof add
  stop.signal.removeEventListener = ((...a: Parameters<typeof remove>) => { live--; remove(...a) }) as typeof remove
  const a = aborts.open(stop.signal)
  const b = aborts.open(stop.signal)
  aborts.close(a)
  t.equal(live, 1)
  aborts.close(b)
  aborts.close(b)
  t.equal(live, 0, 'nothing left on the caller once none is open')
  const c = aborts.open(stop.signal)
  t.equal(live, 1)
  const seen = listened(c)
  stop.abort()
  t.equal(seen.calls, 1)
})

t.test('deadlines: in the order the requests began, from one timer; a closed one is skipped', async (t) => {
  const clock = new ManualClock(1000)
  const aborts = new RequestAborts(100, clock)
  const a = aborts.open()
  clock.advance(30)
  const b = aborts.open()
  const c = aborts.open()
  t.equal(clock.pendingTimers, 1, 'one timer for three deadlines')
  aborts.close(b)
  const sa = listened(a)
  const sc = listened(c)
  clock.advance(69)
  t.equal(a.aborted, false, 'not before its deadline')
  clock.advance(1)
  t.equal(sa.calls, 1)
  t.equal(a.timedOut, true)
  t.match(a.reason, { name: 'TimeoutError' })
  t.equal(c.aborted, false)
  clock.advance(29)
  t.equal(c.aborted, false)
  clock.advance(1)
  t.equal(sc.calls, 1, 'the next deadline from the re-armed timer')
  t.equal(b.aborted, false, 'closed before its deadline: never aborted')
  t.equal(clock.pendingTimers, 0, 'no timer once the queue is empty')
  t.same(aborts.size, { bySignal: 0, queued: 0 })
})

t.test('the caller and a deadline: whichever comes first; timedOut says which', async (t) => {
  const clock = new ManualClock()
  const aborts = new RequestAborts(50, clock)
  const stop = new AbortController()
  const first = aborts.open(stop.signal)
  clock.advance(20)
  const second = aborts.open(stop.signal)
  clock.advance(30)
  t.equal(second.aborted, false)
  t.equal(first.timedOut, true)
  aborts.close(first)
  stop.abort(new Error('stop'))
  t.equal(second.aborted, true)
  t.equal(second.timedOut, false, 'stopped, not timed out')
  aborts.close(second)
  clock.advance(100)
  t.equal(clock.pendingTimers, 0)
})

t.test('short requests ending in order leave the queue as they end; behind a long one they wait for it', async (t) => {
  const clock = new ManualClock()
  const aborts = new RequestAborts(60_000, clock)
  const inFlight: RequestSignal[] = []
  for (let i = 0; i < 10_000; i++) {
    inFlight.push(aborts.open())
    if (inFlight.length > 8) aborts.close(inFlight.shift() as RequestSignal)
    clock.advance(0.1)
  }
  t.same(aborts.size, { bySignal: 0, queued: 8 }, 'about the requests in flight, not the last minute\'s')
  const hold = aborts.open()
  for (let i = 0; i < 3000; i++) { const s = aborts.open(); aborts.close(s) }
  t.ok(aborts.size.queued >= 3000, 'closed ones behind an open one stay until it ends')
  for (const s of inFlight) aborts.close(s)
  aborts.close(hold)
  t.same(aborts.size, { bySignal: 0, queued: 0 }, 'all gone once the head ends')
  t.equal(hold.aborted, false)
})

t.test('RequestSignal: a listener added twice is called once; a removed one not at all; bad timeout refused', async (t) => {
  const s = new RequestSignal()
  let n = 0
  const f = (): void => { n++ }
  const g = (): void => { n += 10 }
  s.addEventListener('abort', f)
  s.addEventListener('abort', f)
  s.addEventListener('abort', g)
  s.removeEventListener('abort', g)
  s.abort('x')
  s.abort('y')
  t.equal(n, 1)
  t.equal(s.reason, 'x')
  t.throws(() => new RequestAborts(0), RangeError)
})
