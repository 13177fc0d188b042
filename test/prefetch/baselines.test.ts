import t from 'tap'
import { SpesPolicy } from '../../prefetch/policies/spesPolicy.js'
import { FaascachePolicy } from '../../prefetch/policies/faascachePolicy.js'
import { IntervalPlan } from '../../prefetch/policies/intervalPlan.js'
import { createPolicy } from '../../prefetch/policies/policies.js'
import { MINUTE_MS } from '../../prefetch/policies/policy.js'
import { codeOf } from '../helpers/codeOf.js'

const min = (m: number): number => m * MINUTE_MS

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

t.test('spes: a new function is unloaded after newKeepAliveMin idle minutes (the authors\' GIVE_UP of 1)', async (t) => {
  const p = new SpesPolicy()
  feed(p, [5])
  t.equal(p.category('f'), 'new')
  t.same(warmMinutes(p, 6, 30), [6])
  t.equal(p.decide('g', 0).instances, 0, 'an unknown function gets nothing')
  const q = new SpesPolicy({ newKeepAliveMin: 10 })
  feed(q, [5])
  t.same(warmMinutes(q, 6, 30), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
})

t.test('spes: regular -> the median idle time +-min(std, 2), pre-loaded PRE_WARM minutes early, and one period more', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 10, 20, 30]) // idle 9, 9, 9: std 0
  t.equal(p.category('f'), 'regular')
  // give-up [0, 1); prediction 9 held in idle minutes 9-2+1 .. 9+2+1 = 8..12; a missed hit: 19 -> 18..22
  t.same(p.plan('f'), [[0, 1], [8, 13], [18, 23]])
  t.same(warmMinutes(p, 31, 60), [31, 39, 40, 41, 42, 43, 49, 50, 51, 52, 53])
})

t.test('spes: appro-regular -> each repeated idle time of the idleModes most frequent', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 10, 31, 41, 62, 72, 93]) // idle 9, 20, 9, 20, 9, 20
  t.equal(p.category('f'), 'appro-regular')
  t.same(p.plan('f'), [[0, 1], [8, 13], [19, 24]])
})

t.test('spes: always warm -> never unloaded (GIVE_UP of 14 days)', async (t) => {
  const p = new SpesPolicy()
  feed(p, Array.from({ length: 20 }, (_, i) => i).concat([40]))
  t.equal(p.category('f'), 'warm')
  t.same(warmMinutes(p, 41, 2000).length, 2000 - 41)
})

t.test('spes: dense -> unloaded after denseMaxMin idle minutes, pre-loaded across the repeated idle times', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 3, 9, 12, 16, 19, 25, 28]) // idle 2, 5, 2, 3, 2, 5, 2: p90 = 5
  t.equal(p.category('f'), 'dense')
  // give-up [0, 5); repeated 2 and 5: predict 2..5 -> held 1..8; merged
  t.same(p.plan('f'), [[0, 9]])
})

t.test('spes: successive and pulsed -> no prediction, unloaded after 1 and 3 idle minutes', async (t) => {
  const s = new SpesPolicy()
  feed(s, [0, 1, 2, 40, 41, 42, 100, 101, 102, 170, 171]) // bursts: most idle times are 0
  t.equal(s.category('f'), 'successive')
  t.same(s.plan('f'), [[0, 1]])
  const p = new SpesPolicy()
  feed(p, [0, 1, 30, 60, 61, 100, 150]) // some back-to-back minutes, irregular gaps, nothing repeats
  t.equal(p.category('f'), 'pulsed')
  t.same(p.plan('f'), [[0, 3]])
})

t.test('spes: possible -> the repeated idle times one by one when they are over 10 minutes apart; unknown -> nothing', async (t) => {
  const p = new SpesPolicy()
  feed(p, [0, 100, 120, 220, 240, 300, 400]) // idle 99, 19, 99, 19, 59, 99
  t.equal(p.category('f'), 'possible')
  t.same(p.plan('f'), [[0, 1], [18, 23], [98, 103]])
  const u = new SpesPolicy()
  feed(u, [0, 100, 300, 330]) // idle 99, 199, 29: nothing repeats
  t.equal(u.category('f'), 'unknown')
  t.same(u.plan('f'), [[0, 1]])
})

t.test('spes: correlated -> a new function is held correlatedMin minutes after another of its owner and trigger runs', async (t) => {
  const p = new SpesPolicy()
  for (const [fn, trigger] of [['o/a/x', 'http'], ['o/b/y', 'http'], ['o/c/z', 'timer'], ['q/a/w', 'http']] as const) p.register(fn, { memoryMb: 128, durationMs: 0, trigger })
  for (const fn of ['o/a/x', 'o/b/y', 'o/c/z', 'q/a/w']) p.observe(fn, min(0), 1)
  p.observe('o/b/y', min(50), 1)
  t.same(warmMinutes(p, 1, 60, 'o/a/x'), [1, 51, 52, 53, 54], 'same owner and trigger: held 4 minutes after y ran')
  t.same(warmMinutes(p, 1, 60, 'o/c/z'), [1], 'another trigger: not correlated')
  t.same(warmMinutes(p, 1, 60, 'q/a/w'), [1], 'another owner: not correlated')
  t.same(warmMinutes(p, 51, 60, 'o/b/y'), [51], 'a function is not correlated with itself')
  const off = new SpesPolicy({ correlatedMin: 0 })
  for (const fn of ['o/a/x', 'o/b/y']) { off.register(fn, { memoryMb: 128, durationMs: 0, trigger: 'http' }); off.observe(fn, min(0), 1) }
  off.observe('o/b/y', min(50), 1)
  t.same(warmMinutes(off, 1, 60, 'o/a/x'), [1], 'correlatedMin 0: off')
})

t.test('spes: concept drift -> a regular function whose period changes is judged again', async (t) => {
  const p = new SpesPolicy({ historySize: 3 })
  feed(p, [0, 10, 20, 30])
  t.equal(p.category('f'), 'regular')
  feed(p, [50, 70, 90, 110]) // idle 19 x3 once the ring has turned over
  t.equal(p.category('f'), 'regular')
  t.same(p.plan('f'), [[0, 1], [18, 23], [38, 43]])
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
  t.equal(codeOf(() => createPolicy('spes', { correlatedMin: -1 }), /correlatedMin=-1/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('spes', { idleModes: 2.5 }), /idleModes=2.5 must be an integer/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('iotless', { slackThreshold: 2 }), /slackThreshold=2/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('iotless', { tailPseudoCount: -1 }), /tailPseudoCount=-1/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('iotless', { targetPercentile: 0 }), /targetPercentile=0/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('iotless', { slack: 1 }), /iotless has no parameter "slack"/), 'SIM_INVALID_PARAM')
  t.equal(codeOf(() => createPolicy('lru')), 'SIM_UNKNOWN_POLICY')
})
