import t from 'tap'
import { SpesPolicy } from '../../prefetch/policies/spesPolicy.js'
import { FaascachePolicy } from '../../prefetch/policies/faascachePolicy.js'
import { IntervalPlan } from '../../prefetch/policies/intervalPlan.js'
import { createPolicy } from '../../prefetch/policies/policies.js'
import { MINUTE_MS } from '../../prefetch/policies/policy.js'
import { isIotlessError } from '../../core/errors.js'

const min = (m: number): number => m * MINUTE_MS

function codeOf (fn: () => unknown, re?: RegExp): string {
  try {
    fn()
    return 'none'
  } catch (e) {
    if (!isIotlessError(e)) return String(e)
    return re === undefined || re.test(e.message) ? e.code : `message: ${e.message}`
  }
}

/** Arrivals (one each) in the given minutes. */
function feed (p: { observe(fn: string, t: number, c: number): void }, minutes: number[], fn = 'f', count = 1): void {
  for (const m of minutes) p.observe(fn, min(m), count)
}

/** The minutes in [from, to) where `decide` holds an instance at the minute start, as the simulator judges it. */
function warmMinutes (p: { decide(fn: string, now: number): { prewarmAt: number; keepAliveUntil: number; instances: number } }, from: number, to: number, fn = 'f'): number[] {
  const out: number[] = []
  for (let m = from; m < to; m++) {
    const d = p.decide(fn, min(m))
    if (d.instances >= 1 && d.prewarmAt <= min(m) && min(m) < d.keepAliveUntil) out.push(m)
  }
  return out
}

t.test('interval plan: merges touching windows, widens the last once full', async (t) => {
  const p = new IntervalPlan(2)
  p.add(0, 2)
  p.add(2, 4)
  t.same(p.intervals(), [[0, 4]], 'touching windows merge')
  p.add(10, 11)
  p.add(20, 21)
  t.same(p.intervals(), [[0, 4], [10, 21]], 'a third window widens the last: nothing asked for is dropped')
  p.add(5, 5)
  t.equal(p.length, 2, 'an empty window is ignored')
  const d = p.decision(100, 111) // idle minute 10
  t.equal(d.prewarmAt, min(111))
  t.equal(d.keepAliveUntil, min(101 + 21))
  t.ok(p.decision(100, 101 + 21).keepAliveUntil <= min(101 + 21), 'after the last window: released')
})

t.test('spes: a new function is kept newKeepAliveMin after its arrival minute', async (t) => {
  const p = new SpesPolicy()
  feed(p, [5])
  t.equal(p.category('f'), 'new')
  t.same(warmMinutes(p, 6, 30), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
  t.equal(p.decide('g', 0).instances, 0, 'an unknown function gets nothing')
})

t.test('spes: regular -> pre-load just for the predicted minute, unload after it', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 10, 20, 30]) // idle 9, 9, 9
  t.equal(p.category('f'), 'regular')
  t.same(p.plan('f'), [[9, 10]])
  t.same(warmMinutes(p, 31, 45), [40])
})

t.test('spes: appro-regular -> one window from the smallest to the largest idle time', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 30, 59, 90]) // idle 29, 28, 30
  t.equal(p.category('f'), 'appro-regular')
  t.same(p.plan('f'), [[28, 31]])
})

t.test('spes: always warm -> kept across the longest idle time seen', async (t) => {
  const p = new SpesPolicy()
  const minutes = Array.from({ length: 20 }, (_, i) => i).filter((m) => m !== 10) // idle 0 x18, one gap of 1
  feed(p, minutes)
  t.equal(p.category('f'), 'warm')
  t.same(p.plan('f'), [[0, 2]])
})

t.test('spes: dense -> kept across the 90th percentile of short idle times', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 2, 7, 9, 15, 18]) // idle 1, 4, 1, 5, 2
  t.equal(p.category('f'), 'dense')
  t.same(p.plan('f'), [[0, 6]])
})

t.test('spes: successive -> one more minute in a burst, and the gap between bursts when it is regular', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 1, 2, 63, 64, 65, 126, 127]) // idle 0,0,60,0,0,60,0
  t.equal(p.category('f'), 'successive')
  t.same(p.plan('f'), [[0, 1], [60, 61]])
})

t.test('spes: pulsed -> irregular bursts get pulsedKeepAliveMin', async (t) => {
  const p = new SpesPolicy({ pulsedKeepAliveMin: 7 })
  feed(p, [0, 1, 30, 31, 200, 480]) // idle 0, 28, 0, 168, 279
  t.equal(p.category('f'), 'pulsed')
  t.same(p.plan('f'), [[0, 7]])
})

t.test('spes: possible -> a window around every idle time seen before', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 100, 300, 330]) // idle 99, 199, 29
  t.equal(p.category('f'), 'possible')
  t.same(p.plan('f'), [[28, 31], [98, 101], [198, 201]])
})

t.test('spes: concept drift -> a regular function whose period changes is judged again', async (t) => {
  const p = new SpesPolicy({ historySize: 3 })
  feed(p, [0, 10, 20, 30])
  t.equal(p.category('f'), 'regular')
  feed(p, [50, 70, 90, 110]) // idle 19 x3 once the ring has turned over
  t.equal(p.category('f'), 'regular')
  t.same(p.plan('f'), [[19, 20]])
})

t.test('faascache: under the budget nothing is evicted and nothing is pre-warmed', async (t) => {
  const p = new FaascachePolicy({ memoryBudgetMb: 1000 })
  p.register('a', { memoryMb: 400, durationMs: 0, trigger: undefined })
  feed(p, [3], 'a')
  t.ok(p.isCached('a'))
  t.same(warmMinutes(p, 0, 3, 'a'), [], 'not loaded before its first arrival')
  t.same(warmMinutes(p, 4, 600, 'a').length, 596, 'kept for as long as memory allows (no TTL)')
  t.equal(p.usedMb, 400)
})

t.test('faascache: evicts the lowest frequency x cost / size first and raises the clock to it', async (t) => {
  const p = new FaascachePolicy({ memoryBudgetMb: 1000 })
  for (const [fn, mb] of [['small', 100], ['big', 800], ['late', 300]] as const) p.register(fn, { memoryMb: mb, durationMs: 0, trigger: undefined })
  feed(p, [0, 1, 2], 'small') // frequency 3, priority 3/100
  feed(p, [0], 'big', 4) // frequency 4, priority 4/800
  t.equal(p.priority('small'), 0.03)
  t.equal(p.priority('big'), 0.005)
  feed(p, [5], 'late') // needs 300: big (lower priority) goes, small stays
  t.notOk(p.isCached('big'))
  t.ok(p.isCached('small'))
  t.ok(p.isCached('late'))
  t.equal(p.clock, 0.005, 'the clock is the evicted priority')
  t.equal(p.priority('late'), 0.005 + 1 / 300, 'a new entry starts at the clock')
  t.equal(p.decide('big', min(6)).instances, 0)
  t.equal(p.evictions, 1)
  feed(p, [7], 'big') // a miss again: the frequency restarted
  t.equal(p.priority('big'), p.clock + 1 / 800)
})

t.test('faascache: a function larger than the whole budget runs but is not kept', async (t) => {
  const p = new FaascachePolicy({ memoryBudgetMb: 100 })
  p.register('huge', { memoryMb: 500, durationMs: 0, trigger: undefined })
  feed(p, [0], 'huge')
  t.notOk(p.isCached('huge'))
  t.equal(p.usedMb, 0)
  t.ok(p.stateBytes('huge') > 0 && p.stateBytes('huge') <= 1024)
})

t.test('new policies: unknown parameters and out-of-range values name the parameter', async (t) => {
  t.equal(codeOf(() => createPolicy('spes', { nope: 1 }), /spes has no parameter "nope"/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('spes', { warmShare: 2 }), /warmShare=2/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('faascache', { memoryBudgetMb: 0 }), /memoryBudgetMb=0/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('faascache', { memoryBudgetMb: 'lots' }), /memoryBudgetMb=lots/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('iotless', { priorTailShape: -1 }), /priorTailShape=-1/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('lru')), 'SIM_UNKNOWN_POLICY')
})
