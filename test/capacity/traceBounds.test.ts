import t from 'tap'
import { simulateRequests } from '../../adapters/runtime/sim/requestSim.js'
import type { RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import { missBreakdown } from '../../bench/capacity/missBreakdown.js'
import { traceBounds } from '../../bench/capacity/traceBounds.js'

// Function a: 3 requests, the 2nd overlaps the 1st, the 3rd 20 minutes later. Function b: one request.
const trace: RequestTrace = {
  format: 'azure2021',
  source: 'test',
  how: 'hand-made',
  durationMs: 1_300_000,
  functions: [
    { id: 'a', arrivalsMs: Float64Array.from([0, 1000, 1_201_000]), durationsMs: Float32Array.from([5000, 1000, 1000]) },
    { id: 'b', arrivalsMs: Float64Array.from([10_000]), durationsMs: Float32Array.from([500]) }
  ]
}

t.test('trace bounds: first requests, long gaps, overlaps, the oracle\'s cost', async (t) => {
  const b = traceBounds(trace, 250)
  t.equal(b.requests, 4)
  t.equal(b.firstOfFunction, 2)
  t.equal(b.afterTenMinutes, 1)
  t.equal(b.overlapping, 1)
  t.equal(b.oracleInstanceSeconds, (5000 + 1000 + 1000 + 500 + 4 * 250) / 1000)
})

t.test('miss breakdown: every first request of a function at zero is a cold-start miss', async (t) => {
  const r = simulateRequests(trace, { scaler: 'reactive', coldStartMs: 250, keepAliveMs: 60_000, keepOutcomes: true })
  const rows = missBreakdown(r, trace.durationMs, 100)
  let cold = 0
  let queue = 0
  let n = 0
  for (const c of rows) { cold += c.coldMisses; queue += c.queueMisses; n += c.requests }
  t.equal(n, 4)
  // a's 1st (cold), a's 2nd (a second instance, cold), a's 3rd (its instances were reaped after 60 s), b's only one.
  t.equal(cold, 4)
  t.equal(queue, 0)
  t.equal(r.sloAttainment, 0)
})
