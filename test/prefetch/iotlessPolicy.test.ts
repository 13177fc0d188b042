import t from 'tap'
import { IotlessPolicy } from '../../prefetch/policies/iotlessPolicy.js'
import { PopulationPrior } from '../../prefetch/policies/populationPrior.js'
import { MINUTE_MS } from '../../prefetch/policies/policy.js'
import { simulate } from '../../prefetch/sim/simulate.js'
import type { Trace } from '../../prefetch/traces/trace.js'

const min = (m: number): number => m * MINUTE_MS

function feed (p: IotlessPolicy, minutes: number[], fn = 'f', count = 1): void {
  for (const m of minutes) p.observe(fn, min(m), count)
}

t.test('no history and an empty prior: the default keep-alive', async (t) => {
  const p = new IotlessPolicy({ defaultKeepAliveMin: 10 })
  t.equal(p.decide('f', 0).instances, 0)
  feed(p, [0])
  t.same(p.plan('f'), [[0, 10]])
  t.equal(p.decide('f', min(1)).keepAliveUntil, min(11))
})

t.test('a strict rhythm is pre-warmed just in time and released at once', async (t) => {
  const p = new IotlessPolicy({ priorWeight: 0, jitterSamples: 0, tailPseudoCount: 0 })
  feed(p, [0, 15, 30, 45, 60, 75, 90]) // every 15 minutes: 14 idle minutes
  t.same(p.plan('f'), [[14, 15]], 'only the 15th minute after the arrival minute')
  const d = p.decide('f', min(91))
  t.equal(d.prewarmAt, min(91 + 14), 'loaded at the start of the minute the next arrival is due')
  t.equal(d.keepAliveUntil, min(91 + 15), 'released when that minute ends')
  const late = p.decide('f', min(91 + 15))
  t.ok(late.keepAliveUntil <= min(91 + 15), 'overdue past every sample: released')
})

t.test('own tail: on by default (tailPseudoCount 0.5)', async (t) => {
  const p = new IotlessPolicy({ priorWeight: 0 })
  t.equal(p.params.tailPseudoCount, 0.5)
  feed(p, Array.from({ length: 100 }, (_, i) => i))
  t.same(p.plan('f'), [[0, 10]], 'past the longest idle time the hazard is the tail\'s, 1/(j+1), whatever its weight')
})

t.test('own tail: an always-on function keeps its instance through a silent gap it has never seen', async (t) => {
  const mins = Array.from({ length: 100 }, (_, i) => i) // an arrival every minute: every idle time in the ring is 0
  const old = new IotlessPolicy({ priorWeight: 0, tailPseudoCount: 0 })
  feed(old, mins)
  t.same(old.plan('f'), [[0, 2]], 'old rule: hazard 0 past the longest idle time (and its jitter), released at idle minute 2')
  const p = new IotlessPolicy({ priorWeight: 0, tailPseudoCount: 1 })
  feed(p, mins)
  // theta = clamp(0.003 x 100, 0.005, 0.1) = 0.1; the tail's hazard 1/(j+1) is >= 0.1 up to idle minute 9
  t.same(p.plan('f'), [[0, 10]], 'one pseudo-sample past the longest idle time: held while 1/(j+1) >= theta')
  t.ok(p.decide('f', min(100 + 5)).keepAliveUntil > min(100 + 5), 'still held in the 6th silent minute')
})

t.test('own tail: a silent gap of 4 minutes costs an always-on function a cold start only under the old rule', async (t) => {
  const mins = Array.from({ length: 200 }, (_, i) => i).filter((m) => m < 150 || m > 153)
  const trace: Trace = {
    format: 'ulb',
    source: 'synthetic',
    firstMinuteLabel: 0,
    minutes: 200,
    functions: [{ id: 'node-1', trigger: undefined, minutes: Uint32Array.from(mins), counts: Uint32Array.from(mins.map(() => 1)), durationMs: 100, memoryMb: 128 }]
  }
  const old = simulate(trace, new IotlessPolicy({ tailPseudoCount: 0 }), { timeDecisions: false })
  const now = simulate(trace, new IotlessPolicy({ tailPseudoCount: 1 }), { timeDecisions: false })
  t.equal(old.coldStarts, 2, 'old rule: the first call and the arrival after the gap')
  t.equal(now.coldStarts, 1, 'own tail: only the first call')
  t.ok(now.wastedMemoryGbSeconds > old.wastedMemoryGbSeconds, 'and the price is the memory held through the gap')
})

t.test('own tail: a busy timer overdue past its rhythm is still released (the hold is bounded by priorTailShape/theta)', async (t) => {
  const p = new IotlessPolicy({ priorWeight: 0, jitterSamples: 0, tailPseudoCount: 1 })
  feed(p, [0, 15, 30, 45, 60, 75, 90], 'f', 100) // theta 0.1; the tail's hazard at idle minute 15 is 1/16 < 0.1
  t.same(p.plan('f'), [[14, 15]])
  const rare = new IotlessPolicy({ priorWeight: 0, jitterSamples: 0, tailPseudoCount: 1 })
  feed(rare, [0, 15, 30, 45, 60, 75, 90]) // 7 invocations: theta = 0.021, held to idle minute floor(1/0.021) = 47
  t.same(rare.plan('f'), [[14, 47]], 'a rarer one is held past the missed slot, into the next (idle minute 29)')
})

t.test('minute-binning jitter spreads to the neighbours while samples are few', async (t) => {
  const p = new IotlessPolicy({ priorWeight: 0, jitterWeight: 0.5, jitterSamples: 4, hazardThreshold: 0.01, minThreshold: 0.01 })
  feed(p, [0, 60]) // one sample: 59 idle minutes
  t.same(p.plan('f'), [[58, 61]])
  const q = new IotlessPolicy({ priorWeight: 0, jitterWeight: 0, hazardThreshold: 0.01, minThreshold: 0.01 })
  feed(q, [0, 60])
  t.same(q.plan('f'), [[59, 60]], 'without spread only the seen minute')
})

t.test('a bimodal function gets two windows, not one from the 5th to the 99th percentile', async (t) => {
  const p = new IotlessPolicy({ priorWeight: 0, jitterSamples: 0, tailPseudoCount: 0 })
  feed(p, [0, 3, 33, 36, 66, 69, 99]) // idle 2, 29, 2, 29, 2, 29
  t.same(p.plan('f'), [[2, 3], [29, 30]])
})

t.test('the threshold grows with invocations: rare functions are held for unlikely arrivals, busy ones are not', async (t) => {
  const mk = (): IotlessPolicy => new IotlessPolicy({ priorWeight: 0, jitterSamples: 0, tailPseudoCount: 0, hazardThreshold: 0.01, minThreshold: 0, maxThreshold: 0.9 })
  // idle times 0 (x9) and 30 (x1): hazard at 30 is 1, at 0 is 0.9
  const mins = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 40]
  const rare = mk()
  feed(rare, mins, 'f', 1) // 11 invocations -> threshold 0.11
  t.same(rare.plan('f'), [[0, 1], [30, 31]])
  const busy = mk()
  feed(busy, mins, 'f', 10) // 110 invocations -> threshold 0.9 (clamped)
  t.same(busy.plan('f'), [[0, 1], [30, 31]], 'hazard 0.9 and 1 still pass the clamp')
  const busier = new IotlessPolicy({ priorWeight: 0, jitterSamples: 0, tailPseudoCount: 0, hazardThreshold: 0.01, minThreshold: 0, maxThreshold: 0.95 })
  feed(busier, mins, 'f', 10)
  t.same(busier.plan('f'), [[30, 31]], 'hazard 0.9 is below 0.95: no bridging of one-minute gaps')
})

t.test('state per function is small and fixed', async (t) => {
  const p = new IotlessPolicy()
  feed(p, [0, 5, 10])
  t.equal(p.stateBytes('f'), 32 * 2 + 16 * 4 + 8 * 8)
})

t.test('population prior: Kaplan-Meier counts functions still waiting as censored', async (t) => {
  const prior = new PopulationPrior(10)
  prior.firstArrival(0)
  prior.firstArrival(0)
  prior.secondArrival(0, 2) // one function came back after 2 idle minutes
  const out = new Float64Array(10)
  // At minute 2 the other function has 1 idle minute behind it: it is censored, P(idle=2) is 1/1 once at risk
  // only the completed one is at risk at j=2 -> hazard 1.
  prior.pmf(2, out)
  const atMinute20 = new Float64Array(10)
  prior.pmf(20, atMinute20)
  // At minute 20 the waiting function has survived 19 idle minutes: at j=2 two are at risk, hazard 1/2.
  const sum20 = atMinute20.reduce((a, b) => a + b, 0)
  const sum2 = out.reduce((a, b) => a + b, 0)
  t.ok(Math.abs(sum20 - 0.5) < 1e-9, `mass within range at minute 20 is 1/2 (got ${sum20})`)
  t.ok(sum2 > 0.99, `at minute 2 nothing contradicts the one sample (got ${sum2})`)
  t.equal(prior.functions, 1)
})

t.test('prior tail: once the population has said nothing more, a new function is held up to priorTailShape/theta, not released', async (t) => {
  const mk = (tail: number): IotlessPolicy => new IotlessPolicy({ priorMinFunctions: 1, priorRangeMin: 10, priorTailShape: tail, jitterSamples: 0 })
  for (const tail of [1, 0]) {
    const p = mk(tail)
    feed(p, [0, 3], 'a') // the prior knows one first idle time: 2 minutes
    feed(p, [0], 'b') // and two functions still waiting after 4 idle minutes (censored): nothing is known beyond
    feed(p, [0], 'c')
    feed(p, [4], 'f') // f has no history: the prior alone decides
    const plan = p.plan('f')
    const end = plan.at(-1)?.[1] ?? 0
    // theta for a function with one invocation: clamp(0.003 x 1, 0.005, 0.1) = 0.005; hazard 1/(j+1) >= 0.005 up to j = 199
    if (tail === 1) t.equal(end, Math.floor(1 / 0.005), 'the Pareto tail (hazard 1/(j+1)) holds it to idle minute 1/theta')
    else t.ok(end <= 11, `without the tail the prior runs out within its range (plan ${JSON.stringify(plan)})`)
  }
})

t.test('memory budget: while more is held idle than the budget allows, the price rises and idle holds go', async (t) => {
  // 10 functions of 1000 MB whose idle times alternate 1 and 3: hazard 0.5 at 1, 1 at 3, so idle minute 1 is held
  // (and wasted) before every 3-minute gap.
  const minutes: number[] = []
  for (let m = 0, k = 0; m < 240; m += k % 2 === 0 ? 2 : 4, k++) minutes.push(m)
  const trace: Trace = {
    format: 'azure2019',
    source: 'synthetic',
    firstMinuteLabel: 0,
    minutes: 240,
    functions: Array.from({ length: 10 }, (_, i) => ({ id: `f${i}`, trigger: 'timer', minutes: Uint32Array.from(minutes), counts: Uint32Array.from(minutes.map(() => 1)), durationMs: 0, memoryMb: 1000 }))
  }
  const opts = { priorWeight: 0, jitterSamples: 0 }
  const free = new IotlessPolicy(opts)
  const a = simulate(trace, free, { timeDecisions: false })
  t.equal(free.price, 1, 'no budget: the price never moves')
  const tight = new IotlessPolicy({ ...opts, memoryBudgetMb: 1000 })
  const b = simulate(trace, tight, { timeDecisions: false })
  t.ok(tight.price > 1, `the price rose (${tight.price})`)
  t.ok(b.keepAliveWasteGbSeconds < 0.6 * a.keepAliveWasteGbSeconds, `idle memory held falls (${b.keepAliveWasteGbSeconds} vs ${a.keepAliveWasteGbSeconds})`)
  t.ok(b.coldStarts > a.coldStarts, 'and the price is paid in cold starts')
  const loose = new IotlessPolicy({ ...opts, memoryBudgetMb: 1e6 })
  const c = simulate(trace, loose, { timeDecisions: false })
  t.equal(c.keepAliveWasteGbSeconds, a.keepAliveWasteGbSeconds, 'a budget never reached changes nothing')
})

/** Decides every function in `fns` for minutes [from, to), as the simulator does (once a minute, in order). */
function tick (p: IotlessPolicy, fns: string[], from: number, to: number): void {
  for (let m = from; m < to; m++) for (const f of fns) p.decide(f, min(m))
}

t.test('slack: the policy counts its own cold starts (arrival minutes it held nothing in)', async (t) => {
  const p = new IotlessPolicy({ priorWeight: 0, jitterSamples: 0, slackThreshold: 0 })
  p.observe('f', min(0), 1)
  t.equal(p.coldStarts('f'), 1, 'the first arrival is cold')
  tick(p, ['f'], 1, 3)
  p.observe('f', min(2), 1) // idle minute 1 held by the default keep-alive of a new function: warm
  t.equal(p.coldStarts('f'), 1)
  tick(p, ['f'], 3, 400)
  p.observe('f', min(399), 1) // long after every plan ran out: cold
  t.equal(p.coldStarts('f'), 2)
})

t.test('slack: the floor is the first-call floor of the functions seen so far, at targetPercentile', async (t) => {
  const p = new IotlessPolicy({ slackThreshold: 0.2 })
  // invocations 1, 2, 4, 8: shares 1, 1/2, 1/4, 1/8; nearest-rank p75 of 4 values is the 3rd smallest share... of
  // the ascending shares [1/8, 1/4, 1/2, 1]: rank ceil(0.75 x 4) = 3 -> 1/2.
  p.observe('a', min(0), 1)
  p.observe('b', min(0), 2)
  p.observe('c', min(0), 4)
  p.observe('d', min(0), 8)
  tick(p, ['a'], 1, 2)
  t.equal(p.floorShare, 0.5)
  const q = new IotlessPolicy({ slackThreshold: 0.2, targetPercentile: 50 })
  for (const [f, c] of [['a', 1], ['b', 2], ['c', 4], ['d', 8]] as const) q.observe(f, min(0), c)
  tick(q, ['a'], 1, 2)
  t.equal(q.floorShare, 0.25, 'a lower percentile, a lower floor')
  const off = new IotlessPolicy({ slackThreshold: 0 })
  off.observe('a', min(0), 1)
  tick(off, ['a'], 1, 2)
  t.equal(off.floorShare, 1, 'slack rule off: the floor is never computed')
})

t.test('slack: a function that can take one more cold start and stay under the floor holds only likely minutes', async (t) => {
  // Idle times alternating 2 and 20: after an arrival, idle minute 2 has hazard about 1/2, minute 20 hazard 1.
  // Functions a and b have one invocation each, so the floor (p75 of 1/invocations) is 1: f, with 6 invocations and
  // at most 4 cold starts, always has slack (1 x 6 - cold >= 1), so with the rule on its threshold is at least 0.9.
  const mk = (slack: number): IotlessPolicy => {
    const p = new IotlessPolicy({ priorWeight: 0, jitterSamples: 0, tailPseudoCount: 0, slackThreshold: slack })
    for (const [f, c] of [['a', 1], ['b', 1], ['c', 2]] as const) p.observe(f, min(0), c)
    const arrivals = [0, 3, 24, 27, 48, 51]
    let k = 0
    for (let m = 0; m <= 51; m++) {
      if (arrivals[k] === m) { p.observe('f', min(m), 1); k++ }
      tick(p, ['a', 'b', 'c', 'f'], m + 1, m + 2)
    }
    return p
  }
  const off = mk(0)
  t.same(off.plan('f'), [[2, 3], [20, 21]], 'rule off: both likely idle minutes are held')
  t.equal(off.coldStarts('f'), 2, 'rule off: the first arrival and the first 20-minute gap are cold')
  const on = mk(0.9)
  t.equal(on.floorShare, 1)
  t.same(on.plan('f'), [[20, 21]], 'rule on: only the near-certain minute is held')
  t.equal(on.coldStarts('f'), 4, 'the 2-minute gaps go cold: 4 of 6, still within the floor')
})
