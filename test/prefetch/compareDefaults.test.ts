import t from 'tap'
import { compareAtDefaults, dominates, DEFAULT_RUNS } from '../../prefetch/sim/compareDefaults.js'
import { sliceTrace, tileTrace, firstCallFloorP75 } from '../../prefetch/traces/traceWindow.js'
import type { Trace } from '../../prefetch/traces/trace.js'

function trace (series: number[][], minutes: number): Trace {
  return {
    format: 'azure2019',
    source: 'synthetic',
    firstMinuteLabel: 0,
    minutes,
    functions: series.map((m, i) => ({ id: `f${i}`, trigger: 'timer', minutes: Uint32Array.from(m), counts: Uint32Array.from(m.map(() => 1)), durationMs: 0, memoryMb: 1024 }))
  }
}

t.test('slice: minutes renumbered from the cut, functions without arrivals there dropped', async (t) => {
  const tr = trace([[1, 5, 9], [2]], 10)
  const s = sliceTrace(tr, 4, 10)
  t.equal(s.minutes, 6)
  t.equal(s.functions.length, 1)
  t.same([...(s.functions[0]?.minutes ?? [])], [1, 5])
  t.equal(s.firstMinuteLabel, 4)
})

t.test('tile: copies in time continue the series, copies in functions get new ids', async (t) => {
  const tr = trace([[1, 5]], 10)
  const big = tileTrace(tr, 3, 2)
  t.equal(big.minutes, 30)
  t.same(big.functions.map((f) => f.id), ['f0', 'f0#1'])
  t.same([...(big.functions[1]?.minutes ?? [])], [1, 5, 11, 15, 21, 25])
  t.match(big.source, /synthetic/)
})

t.test('first-call floor: the p75 of 100/invocations', async (t) => {
  // invocations 1, 2, 4, 4 -> 100, 50, 25, 25; nearest-rank p75 of [25, 25, 50, 100] is 50
  t.equal(firstCallFloorP75(trace([[0], [0, 1], [0, 1, 2, 3], [0, 2, 4, 6]], 10)), 50)
})

t.test('the verdicts are computed from the results of the run, not written down', async (t) => {
  // One function busy every minute: every policy has the one first cold start; knative wastes least after the
  // last arrival, fixed 10 min the most. So knative dominates fixed here, and fixed dominates nothing.
  const tr = trace([Array.from({ length: 30 }, (_, i) => i)], 40)
  const runs = [['fixed', { keepAliveMin: 10 }], ['knative', {}]] as const
  const k = compareAtDefaults(tr, runs, 'knative')
  t.equal(k.verdicts.length, 1)
  t.equal(k.verdicts[0]?.baseline, 'fixed')
  t.equal(k.verdicts[0]?.dominates, true)
  const f = compareAtDefaults(tr, runs, 'fixed')
  t.equal(f.verdicts[0]?.dominates, false)
  const [fixed, knative] = k.results
  if (fixed === undefined || knative === undefined) throw new Error('two results expected')
  t.equal(k.verdicts[0]?.wasteRatio, knative.wastedMemoryGbSeconds / fixed.wastedMemoryGbSeconds)
  t.ok(dominates(knative, fixed) && !dominates(fixed, knative) && !dominates(fixed, fixed), 'strictly better in one, no worse in the other')
  t.equal(k.floorP75, 100 / 30)
})

t.test('the bench runs every policy at its defaults, iotless among them', async (t) => {
  t.same(DEFAULT_RUNS.map(([p]) => p), ['fixed', 'knative', 'hybrid', 'spes', 'faascache', 'iotless'])
  const c = compareAtDefaults(trace([[0, 10, 20, 30], [5, 65, 125], [7]], 200))
  t.equal(c.results.length, DEFAULT_RUNS.length)
  t.equal(c.verdicts.length, DEFAULT_RUNS.length - 1)
  t.ok(['met', 'missed', 'floor'].includes(c.halfOfHybrid))
})

t.test('waste breakdown: groups by active minutes, first calls apart, waste over releasing at once', async (t) => {
  const { wasteBreakdown } = await import('../../prefetch/sim/wasteBreakdown.js')
  const { simulate } = await import('../../prefetch/sim/simulate.js')
  const { createPolicy } = await import('../../prefetch/policies/policies.js')
  // f0: one arrival minute; f1: arrivals every 5 minutes (12 active minutes in 60)
  const tr = trace([[3], Array.from({ length: 12 }, (_, i) => i * 5)], 60)
  const released = simulate(tr, createPolicy('fixed', { keepAliveMin: 0 }), { perFunction: true, timeDecisions: false })
  const kept = simulate(tr, createPolicy('fixed', { keepAliveMin: 10 }), { perFunction: true, timeDecisions: false })
  const rows = wasteBreakdown(tr, kept, released, 25)
  t.same(rows.map((r) => r.activeMinutes), ['1', '11-60'])
  const [one, many] = rows
  t.equal(one?.laterColdStarts, 0)
  t.equal(one?.atOrUnderCut, 0, 'one call, one cold start: 100 %')
  t.equal(many?.laterColdStarts, 0, 'every 5 minutes, kept 10: only the first call is cold')
  t.equal(many?.atOrUnderCut, 1)
  // f0 is kept 10 idle minutes at 1 GB: 600 GB-s; f1 4 idle minutes in each of 11 gaps and 10 after the last (capped
  // by the trace end at minute 60: minutes 56..59 = 4)
  t.equal(one?.keepAliveWasteGbSeconds, 600)
  t.equal(many?.keepAliveWasteGbSeconds, (11 * 4 + 4) * 60)
  const none = wasteBreakdown(tr, released, released, 25)
  t.same(none.map((r) => r.keepAliveWasteGbSeconds), [0, 0], 'releasing at once chooses no waste')
})

t.test('pareto frontier: only points no other beats on both p75 and waste', async (t) => {
  const { paretoFrontier } = await import('../../prefetch/sim/sweep.js')
  const pt = (policy: string, p75: number, w: number): Parameters<typeof paretoFrontier>[0][number] => ({ policy, p75FunctionColdStartPct: p75, wastedMemoryGbSeconds: w } as unknown as Parameters<typeof paretoFrontier>[0][number])
  const a = pt('a', 10, 100)
  const b = pt('b', 20, 50)
  const c = pt('c', 20, 120) // beaten by a
  const d = pt('d', 10, 100) // equal to a: neither beats the other
  t.same(paretoFrontier([c, b, a, d]).map((r) => r.policy), ['a', 'd', 'b'])
})
