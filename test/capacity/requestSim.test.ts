import t from 'tap'
import { join } from 'node:path'
import { simulateRequests, type RequestSimResult } from '../../adapters/runtime/sim/requestSim.js'
import { loadRequestTrace, type RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import { SimClock } from '../../adapters/runtime/sim/simClock.js'
import { loadAzure2019 } from '../../prefetch/traces/loadAzure2019.js'
import { sharedDir } from '../helpers/paths.js'

function trace (fns: Array<{ id: string; at: number[]; dur: number | number[] }>, durationMs: number): RequestTrace {
  return {
    format: 'azure2021',
    source: 'test',
    durationMs,
    how: 'built in the test',
    functions: fns.map((f) => ({ id: f.id, arrivalsMs: Float64Array.from(f.at), durationsMs: Float32Array.from(f.at, (_, i) => Array.isArray(f.dur) ? f.dur[i] ?? 0 : f.dur) }))
  }
}

/** Requests of `id` finished by `untilMs`. */
function servedBy (r: RequestSimResult, id: string, tr: RequestTrace, untilMs: number): number {
  const f = r.perFunction.find((x) => x.id === id)
  const arr = tr.functions.find((x) => x.id === id)?.arrivalsMs
  if (f?.outcome === undefined || arr === undefined) return 0
  let n = 0
  for (let i = 0; i < arr.length; i++) if ((arr[i] ?? 0) + (f.outcome.latencyMs[i] ?? NaN) <= untilMs) n++
  return n
}

t.test('the sim clock fires in time order, ties in the order set, and skips cleared timers', async (t) => {
  const c = new SimClock()
  const seen: string[] = []
  c.setTimeout(() => seen.push('b'), 20)
  const x = c.setTimeout(() => seen.push('x'), 10)
  c.setTimeout(() => { seen.push('a'); c.setTimeout(() => seen.push('a2'), 0) }, 10)
  c.setTimeout(() => seen.push('c'), 20)
  c.clearTimeout(x)
  while (c.step()) { /* run */ }
  t.same(seen, ['a', 'a2', 'b', 'c'])
  t.equal(c.now(), 20)
})

t.test('one cold start, then a queue behind a busy instance (reactive, maxScale 1)', async (t) => {
  const r = simulateRequests(trace([{ id: 'f', at: [0, 10, 1000], dur: 100 }], 2000), { scaler: 'reactive', maxScale: 1, coldStartMs: 200 })
  // Request 0 waits 200 (cold) and ends at 300; request 1 waits for it until 300 and ends at 400; request 2 is warm.
  t.equal(r.spawns, 1)
  t.equal(r.perFunction[0]?.maxInstances, 1)
  t.equal(r.waitMsP50, 200)
  t.equal(r.latencyMsP50, 300)
  t.equal(r.latencyMsP99, 390)
  t.ok(Math.abs(r.sloAttainment - 1 / 3) < 1e-9, 'only the warm request waited <= 100 ms')
})

t.test('the reactive pool scales out for concurrent requests and reaps at keep-alive', async (t) => {
  const r = simulateRequests(trace([{ id: 'f', at: [0, 0, 0, 5000], dur: 100 }], 10_000), { scaler: 'reactive', maxScale: 8, coldStartMs: 100, coldStartCpus: 100, keepAliveMs: 1000 })
  t.equal(r.perFunction[0]?.maxInstances, 3)
  t.equal(r.spawns, 4, 'all three reaped after 1 s idle; the request at 5 s starts a fourth')
  // 3 instances from 0 to 1200 (ready at 100, idle from 200) + 1 from 5000 to 6200.
  t.ok(Math.abs(r.instanceSeconds - (3 * 1.2 + 1.2)) < 1e-6, `instance-seconds ${r.instanceSeconds}`)
})

t.test('probeEveryMs: the box\'s cumulative instance-seconds and starts on a grid, and nothing else changes', async (t) => {
  const tr = trace([{ id: 'f', at: [0, 0, 0, 5000], dur: 100 }], 10_000)
  const o = { scaler: 'reactive' as const, maxScale: 8, coldStartMs: 100, coldStartCpus: 100, keepAliveMs: 1000 }
  const r = simulateRequests(tr, { ...o, probeEveryMs: 2500 })
  // 3 instances 0..1200, one 5000..6200 (previous test).
  t.same(r.probe?.map((p) => p.atMs), [2500, 5000, 7500, 10_000])
  t.same(r.probe?.map((p) => p.spawns), [3, 3, 4, 4])
  t.ok(Math.abs((r.probe?.[0]?.instanceSeconds ?? 0) - 3.6) < 1e-6 && Math.abs((r.probe?.[3]?.instanceSeconds ?? 0) - 4.8) < 1e-6, JSON.stringify(r.probe))
  const plain = simulateRequests(tr, o)
  t.equal(plain.probe, undefined, 'off by default')
  t.same({ ...r, probe: undefined, simSeconds: 0, heapMb: 0 }, { ...plain, probe: undefined, simSeconds: 0, heapMb: 0 })
})

t.test('a full queue refuses, as the breaker does (10 x concurrency x maxScale)', async (t) => {
  const at = Array.from({ length: 30 }, () => 0)
  const r = simulateRequests(trace([{ id: 'f', at, dur: 1000 }], 60_000), { scaler: 'fixed', fixedInstances: 1, maxScale: 1, coldStartMs: 10 })
  t.equal(r.rejected, 30 - 11, '1 slot + 10 queued, the rest refused')
})

t.test('deterministic', async (t) => {
  const tr = trace([{ id: 'f', at: [0, 50, 60, 70, 2000], dur: [100, 20, 300, 40, 10] }, { id: 'g', at: [5, 6], dur: 500 }], 5000)
  const a = simulateRequests(tr, { scaler: 'kpa' })
  const b = simulateRequests(tr, { scaler: 'kpa' })
  t.same({ ...a, simSeconds: 0, heapMb: 0 }, { ...b, simSeconds: 0, heapMb: 0 })
})

t.test('under overload the box is shared fairly, and a guarantee holds against 10x the box', async (t) => {
  // Box of 8 instances. g: guaranteed 5/s, 100 ms each. h1, h2: 40/s each at 1 s, wanting 40+ instances each.
  const every = (ratePerSec: number, untilMs: number) => Array.from({ length: Math.floor(untilMs * ratePerSec / 1000) }, (_, i) => i * 1000 / ratePerSec)
  const tr = trace([
    { id: 'g', at: every(5, 60_000), dur: 100 },
    { id: 'h1', at: every(40, 60_000).map((x) => x + 3), dur: 1000 },
    { id: 'h2', at: every(40, 60_000).map((x) => x + 7), dur: 1000 }
  ], 60_000)
  const functions = new Map([['g', { guarantee: { ratePerSec: 5, burst: 2 } }]])
  const r = simulateRequests(tr, { scaler: 'slo', boxInstances: 8, maxScale: 64, coldStartMs: 100, coldStartCpus: 100, functions, keepOutcomes: true })
  t.ok(r.overloads >= 1, 'the box was overloaded')
  const g = r.perFunction.find((f) => f.id === 'g')
  t.ok(g !== undefined && g.guaranteedRequests > 250, `g's requests within its guarantee: ${g?.guaranteedRequests}`)
  t.equal(g?.guaranteedWithinSlo, g?.guaranteedRequests, 'every guaranteed request waited <= 100 ms')
  const h1 = servedBy(r, 'h1', tr, 60_000)
  const h2 = servedBy(r, 'h2', tr, 60_000)
  t.ok(h1 > 100 && Math.abs(h1 - h2) / h1 < 0.1, `the two hogs got equal shares: ${h1} and ${h2} served in the minute`)
  t.ok((r.jainUnderOverload ?? 0) > 0.3, `Jain ${r.jainUnderOverload}`)
  // Without a box, the same trace is not overloaded.
  const free = simulateRequests(tr, { scaler: 'slo', maxScale: 64, coldStartMs: 100, coldStartCpus: 100 })
  t.equal(free.overloads, 0)
})

t.test('weights skew the share', async (t) => {
  const every = (ratePerSec: number, untilMs: number, off: number) => Array.from({ length: Math.floor(untilMs * ratePerSec / 1000) }, (_, i) => off + i * 1000 / ratePerSec)
  const tr = trace([{ id: 'a', at: every(30, 30_000, 1), dur: 1000 }, { id: 'b', at: every(30, 30_000, 2), dur: 1000 }], 30_000)
  const r = simulateRequests(tr, { scaler: 'reactive', boxInstances: 12, maxScale: 64, coldStartMs: 50, coldStartCpus: 100, functions: new Map([['a', { weight: 16 }], ['b', { weight: 8 }]]), keepOutcomes: true })
  // Served while both were overloaded (the first 30 s): a has 8 instances at full CPU, b 8 deflated to half.
  const a = servedBy(r, 'a', tr, 30_000)
  const b = servedBy(r, 'b', tr, 30_000)
  t.ok(a / b > 1.6 && a / b < 2.4, `weight 16 vs 8: ${a} vs ${b} served in 30 s`)
  t.ok(r.cpuSeconds < r.instanceSeconds, 'some instances ran deflated')
})

t.test('Azure 2019 minutes become requests: counts kept per minute, seeded', async (t) => {
  const dir = join(sharedDir, 'traces/azure2019-500fn-8h')
  const minutes = loadAzure2019(dir)
  const a = loadRequestTrace(dir, 'azure2019', { seed: 7 })
  const b = loadRequestTrace(dir, 'azure2019', { seed: 7 })
  const c = loadRequestTrace(dir, 'azure2019', { seed: 8 })
  const fn = minutes.functions.find((f) => f.minutes.length > 10)
  const req = a.functions.find((f) => f.id === fn?.id)
  t.ok(fn !== undefined && req !== undefined)
  if (fn === undefined || req === undefined) return
  const perMinute = new Map<number, number>()
  for (const x of req.arrivalsMs) perMinute.set(Math.floor(x / 60_000), (perMinute.get(Math.floor(x / 60_000)) ?? 0) + 1)
  for (let i = 0; i < fn.minutes.length; i++) t.equal(perMinute.get(fn.minutes[i] ?? 0), fn.counts[i], `minute ${fn.minutes[i]}`)
  t.same(Array.from(req.arrivalsMs.slice(0, 50)), Array.from(b.functions.find((f) => f.id === fn.id)?.arrivalsMs.slice(0, 50) ?? []), 'same seed, same requests')
  t.not(req.arrivalsMs[0], c.functions.find((f) => f.id === fn.id)?.arrivalsMs[0], 'another seed, other times')
  for (let i = 1; i < req.arrivalsMs.length; i++) if ((req.arrivalsMs[i] ?? 0) < (req.arrivalsMs[i - 1] ?? 0)) { t.fail('not sorted'); break }
})

t.test('Azure 2021 and ULB load request by request', async (t) => {
  const az = loadRequestTrace(join(sharedDir, 'traces/azure2021'), undefined)
  let n = 0
  for (const f of az.functions) n += f.arrivalsMs.length
  t.equal(n, 998, 'one request per row')
  t.equal(az.functions.length, 49)
  const ulb = loadRequestTrace(join(sharedDir, 'traces/ulb-sensornet-library1'), 'ulb', { defaultDurationMs: 20, topFunctions: 2, lengthMs: 600_000 })
  t.equal(ulb.functions.length, 2)
  t.ok(ulb.functions.every((f) => f.durationsMs.every((d) => d === 20)))
  t.ok(ulb.durationMs === 600_000)
})
