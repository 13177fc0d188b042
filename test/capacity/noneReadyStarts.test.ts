import t from 'tap'
import { SloScaler, type SloSettings } from '../../adapters/runtime/capacity/sloScaler.js'
import { simulateRequests } from '../../adapters/runtime/sim/requestSim.js'
import type { RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'

const slo = { waitMs: 100, percentile: 0.95 }
// Through a variable, so that the file also compiles against a sizer without the setting (it must then fail).
const capped: Partial<SloSettings> = { idleSecondsPerColdStart: 0, attainmentTarget: 0, noneReadyColdStartMs: 250 } as Partial<SloSettings>

t.test('none ready: no more instances start than the backlog can use within a cold start', async (t) => {
  const s = new SloScaler(slo, 1, 256, capped)
  t.equal(s.target({ inFlight: 0, waiting: 20, ready: 0, starting: 1 }), 20, 'service time unmeasured: one per request (best effort)')
  s.onComplete(0, 10)
  // 20 waiting x 10 ms = 200 ms of work: one instance serves it within the 250 ms the next would take to start.
  t.equal(s.target({ inFlight: 0, waiting: 20, ready: 0, starting: 1 }), 1, '20 x 10 ms / 250 ms: 1')
  t.equal(s.target({ inFlight: 0, waiting: 60, ready: 0, starting: 1 }), 3, '60 x 10 ms / 250 ms: 3')
  t.equal(s.target({ inFlight: 0, waiting: 1, ready: 0, starting: 0 }), 1, 'the first request still starts one')
  t.equal(s.target({ inFlight: 0, waiting: 0, ready: 0, starting: 0 }), 0, 'nothing waiting: none')
  t.equal(s.target({ inFlight: 1, waiting: 30, ready: 1, starting: 0 }), 31, 'one ready: the queue rule as before (30 x 10 ms > 100 ms)')
  const c2 = new SloScaler(slo, 2, 256, capped)
  c2.onComplete(0, 10)
  t.equal(c2.target({ inFlight: 0, waiting: 120, ready: 0, starting: 1 }), 3, 'concurrency 2: 120 x 10 / (2 x 250) = 2.4 -> 3')
})

t.test('none ready: a service time longer than a cold start, or the setting off, starts one per request', async (t) => {
  const long = new SloScaler(slo, 1, 256, capped)
  long.onComplete(0, 400)
  t.equal(long.target({ inFlight: 0, waiting: 20, ready: 0, starting: 1 }), 20, '400 ms > 250 ms: each request its own')
  const off = new SloScaler(slo, 1, 256, { idleSecondsPerColdStart: 0, attainmentTarget: 0 })
  off.onComplete(0, 10)
  t.equal(off.target({ inFlight: 0, waiting: 20, ready: 0, starting: 1 }), 20, 'default (0): one per waiting request')
})

t.test('simulated: a burst after the function scaled to zero starts what its backlog can use, and all of it is served', async (t) => {
  // One request at 0 (measures 10 ms), then 50 at 300 s, 2 ms apart: the 2-minute window is empty by then and the instance reaped (no floor).
  const at = [0, ...Array.from({ length: 50 }, (_, i) => 300_000 + 2 * i)]
  const tr: RequestTrace = { format: 'azure2021', source: 'test', durationMs: 400_000, how: 'built in the test', functions: [{ id: 'f', arrivalsMs: Float64Array.from(at), durationsMs: new Float32Array(at.length).fill(10) }] }
  const run = (s: Partial<SloSettings>): ReturnType<typeof simulateRequests> => simulateRequests(tr, { scaler: 'slo', coldStartMs: 250, coldStartCpus: 2, keepAliveMs: 600_000, sloSettings: s, keepOutcomes: true, spawnLog: true })
  const old = run({ idleSecondsPerColdStart: 0, attainmentTarget: 0 })
  const cap = run(capped)
  const burstStarts = (r: ReturnType<typeof simulateRequests>): number => (r.perFunction[0]?.spawnLog ?? []).filter((x) => x.spawnedAt >= 300_000).length
  t.ok(burstStarts(old) >= 40, `one per waiting request: ${burstStarts(old)} started in the burst`)
  t.ok(burstStarts(cap) <= 3, `capped: ${burstStarts(cap)} started (the 50 x 10 ms backlog fits 2 instances within 250 ms)`)
  t.equal(cap.rejected, 0, 'every request served')
  // Each waited at least a cold start (250 ms > 100 ms) either way: the instances the cap does not start served none within it.
  t.equal(cap.perFunction[0]?.withinSlo, old.perFunction[0]?.withinSlo, 'the same requests within the objective')
  const lat = cap.perFunction[0]?.outcome?.latencyMs ?? new Float32Array()
  let last = 0
  for (let i = 1; i < at.length; i++) last = Math.max(last, (at[i] ?? 0) + (lat[i] ?? NaN))
  t.ok(last <= 300_000 + 250 + 50 * 10, `the burst is served by ${(last - 300_000).toFixed(0)} ms after it began (one cold start + the backlog on one instance)`)
  t.ok(cap.instanceSeconds < old.instanceSeconds, `fewer instance-seconds: ${cap.instanceSeconds.toFixed(1)} < ${old.instanceSeconds.toFixed(1)}`)
})
