import t from 'tap'
import { headroomSlots } from '../../adapters/runtime/capacity/readyHeadroom.js'
import { SloScaler } from '../../adapters/runtime/capacity/sloScaler.js'
import { simulateRequests } from '../../adapters/runtime/sim/requestSim.js'
import type { RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import { seededRandom } from '../../core/seededRandom.js'

const slo = { waitMs: 100, percentile: 0.95 }

t.test('headroom: the smallest k with P(Poisson(rate x replenish) >= k) <= the miss share', async (t) => {
  t.equal(headroomSlots(0, 500, 0.05), 0, 'nothing arrives: no headroom')
  t.equal(headroomSlots(1, 0, 0.05), 0, 'off')
  // m = 0.033 x 0.25 = 0.00825: P(N >= 1) = 0.8% <= 5%.
  t.equal(headroomSlots(0.033, 250, 0.05), 1)
  // m = 2.2: P(N >= 5) = 7.25%, P(N >= 6) = 2.49%.
  t.equal(headroomSlots(8.8, 250, 0.05), 6)
  t.equal(headroomSlots(8.8, 250, 0.08), 5)
  // m = 1000: e^-1000 underflows; the answer is near m + 1.645 sqrt(m) = 1052.
  const big = headroomSlots(1000, 1000, 0.05)
  t.ok(big > 1040 && big < 1060, `m = 1000: ${big}`)
})

t.test('headroom: k spare slots replaced after replenishMs leave at most the miss share of arrivals without one', async (t) => {
  const rnd = seededRandom(11)
  for (const [rate, replenishMs] of [[0.5, 250], [8.8, 250], [40, 500]] as const) {
    const k = headroomSlots(rate, replenishMs, 0.05)
    // Each arrival takes a spare; its replacement is ready replenishMs later. An arrival misses when all k are taken.
    const taken: number[] = []
    let at = 0
    let missed = 0
    const n = 20_000
    for (let i = 0; i < n; i++) {
      at += -Math.log(1 - rnd()) * 1000 / rate
      while (taken.length > 0 && (taken[0] ?? Infinity) <= at) taken.shift()
      if (taken.length >= k) missed++
      taken.push(at + replenishMs)
    }
    t.ok(missed / n <= 0.05, `rate ${rate}/s, replenish ${replenishMs} ms, k ${k}: ${(100 * missed / n).toFixed(2)}% missed`)
    // And k - 1 would not do (k is the smallest).
    t.ok(k === 1 || missedWith(k - 1, rate, replenishMs, seededRandom(12)) > 0.05 * 0.8, `k - 1 misses more (rate ${rate})`)
  }
})

function missedWith (k: number, rate: number, replenishMs: number, rnd: () => number): number {
  const taken: number[] = []
  let at = 0
  let missed = 0
  for (let i = 0; i < 20_000; i++) {
    at += -Math.log(1 - rnd()) * 1000 / rate
    while (taken.length > 0 && (taken[0] ?? Infinity) <= at) taken.shift()
    if (taken.length >= k) missed++
    taken.push(at + replenishMs)
  }
  return missed / 20_000
}

/** A sizer that has seen `rate`/s for 2 minutes at `serviceMs` per request. */
function sizer (rate: number, serviceMs: number, replenishMs: number): SloScaler {
  const s = new SloScaler(slo, 1, 256, { replenishMs, idleSecondsPerColdStart: 0, attainmentTarget: 0, holdMs: 0 })
  s.onComplete(0, serviceMs)
  const n = Math.round(rate * 120)
  for (let i = 0; i < n; i++) s.onArrival((i + 0.5) * 120_000 / n)
  return s
}

t.test('SLO sizer: a long-serving function gets its requests plus a spare, not Erlang C\'s steady-state count', async (t) => {
  // 0.033/s x 15 s: 0.5 busy on average; Erlang C wants 3 for 95% within 100 ms.
  const on = sizer(0.0333, 15_000, 500)
  on.tick(120_000, { inFlight: 1, waiting: 0, ready: 3, starting: 0 })
  t.equal(on.erlangInstances, 3, 'Erlang C: 3')
  t.equal(on.spareSlots, 1)
  t.equal(on.modelInstances, 2, 'one in service + one spare')
  t.equal(on.keep(), 2)
  t.equal(on.target({ inFlight: 2, waiting: 0, ready: 2, starting: 0 }), 3, 'a second request took the spare: its replacement starts at once')
  t.equal(on.target({ inFlight: 5, waiting: 0, ready: 5, starting: 0 }), 6, 'five in service (past Erlang C\'s 3): still a spare beside them')
  const off = sizer(0.0333, 15_000, 0)
  off.tick(120_000, { inFlight: 1, waiting: 0, ready: 3, starting: 0 })
  t.equal(off.modelInstances, 3, 'replenishMs 0: Erlang C alone (LaSS)')
  t.equal(off.spareSlots, 0)
})

t.test('SLO sizer: for short, frequent requests Erlang C is the smaller and stands', async (t) => {
  // 60/s x 200 ms: a = 12; headroom 60 x 0.5 = 30 arrivals per replenishment.
  const s = sizer(60, 200, 500)
  s.tick(120_000, { inFlight: 12, waiting: 0, ready: 16, starting: 0 })
  t.equal(s.spareSlots, 0, 'a + k > Erlang C: no headroom')
  t.equal(s.modelInstances, s.erlangInstances)
  t.ok(s.erlangInstances < 12 + headroomSlots(60, 500, 0.05), `Erlang C ${s.erlangInstances} < 12 + ${headroomSlots(60, 500, 0.05)}`)
})

t.test('SLO sizer: with nothing in the function the headroom adds nothing (the warm floor decides)', async (t) => {
  const s = sizer(0.0333, 15_000, 500)
  s.tick(120_000, { inFlight: 0, waiting: 0, ready: 0, starting: 0 })
  t.equal(s.modelInstances, 1, 'one spare beside none')
  t.equal(s.target({ inFlight: 0, waiting: 0, ready: 1, starting: 0 }), s.keep(), 'nothing in the function: the held count, no spare started')
  const floored = new SloScaler(slo, 1, 256, { replenishMs: 500, holdMs: 0 })
  floored.onComplete(0, 15_000)
  for (let i = 0; i < 4; i++) floored.onArrival(i * 30_000)
  floored.tick(100_000, { inFlight: 0, waiting: 0, ready: 1, starting: 0 })
  t.equal(floored.keep(), floored.warmFloor, 'with a warm floor, below 2 the model does not hold the first instance: the floor does')
})

t.test('simulated: a long-serving Poisson function costs less with the headroom at no loss within the SLO', async (t) => {
  const rnd = seededRandom(5)
  const at: number[] = []
  let x = 0
  for (;;) { x += -Math.log(1 - rnd()) * 30_000; if (x >= 7_200_000) break; at.push(x) }
  const tr: RequestTrace = { format: 'azure2021', source: 'test', how: 'Poisson, 1 per 30 s, 15 s each', durationMs: 7_200_000, functions: [{ id: 'long', arrivalsMs: Float64Array.from(at), durationsMs: Float32Array.from(at, () => 15_000) }] }
  // The warm floor off in both, so that what differs is the headroom alone (with a floor, whether the first instance
  // stays through a lull is the floor's price, not the headroom's).
  const run = (replenishMs: number): ReturnType<typeof simulateRequests> => simulateRequests(tr, { scaler: 'slo', coldStartMs: 250, sloSettings: { replenishMs, idleSecondsPerColdStart: 0, attainmentTarget: 0 } })
  const on = run(500)
  const off = run(0)
  t.ok(on.instanceSeconds < 0.8 * off.instanceSeconds, `instance-seconds ${on.instanceSeconds.toFixed(0)} vs ${off.instanceSeconds.toFixed(0)} (Erlang C alone)`)
  t.ok(on.sloAttainment >= off.sloAttainment - 0.005, `within ${(100 * on.sloAttainment).toFixed(2)}% vs ${(100 * off.sloAttainment).toFixed(2)}%`)
  t.ok(on.sloAttainment >= 0.97, `within ${(100 * on.sloAttainment).toFixed(2)}%`)
})
