/**
 * `node dist/bench/placement/dispatchSim.js`: the pool's dispatch strategies (adapters/runtime/dispatch) side by
 * side in one run, in a time-stepped simulation of one function's pool: up to MAX_SCALE instances of
 * CONCURRENCY slots, each instance one core shared by its requests (processor sharing: k requests each run at
 * 1/k), Poisson arrivals, exponential work (mean WORK_MS), a cold start of COLD_MS for a new instance, idle
 * instances reaped after KEEP_ALIVE_MS. Reports p50/p99 latency and instance-seconds at several loads.
 * A simulation, not real processes: it shows the trade-off (packing saves instance-seconds, spreading saves
 * latency), not this machine's figures.
 */
import { busiestFirst, joinShortestQueue, randomDispatch, ThresholdDispatch, type DispatchStrategy } from '../../adapters/runtime/dispatch/thresholdDispatch.js'

const MAX_SCALE = 8
const CONCURRENCY = 4
const WORK_MS = 20
const COLD_MS = 500
const KEEP_ALIVE_MS = 5000
const SIM_MS = 60_000

function seeded (seed: number): () => number {
  let s = seed
  return () => { s = (s * 48271) % 2147483647; return s / 2147483647 }
}

interface Req { arrived: number; left: number }
interface Inst { inFlight: number; lastUsedAt: number; readyAt: number; reqs: Req[] }

function simulate (make: (r: () => number) => DispatchStrategy, ratePerS: number, seed: number): { p50: number; p99: number; instanceS: number; done: number } {
  const r = seeded(seed)
  const strategy = make(seeded(seed + 1))
  const insts: Inst[] = []
  const queue: Req[] = []
  const lat: number[] = []
  let instanceMs = 0
  let nextArrival = -Math.log(1 - r()) / ratePerS * 1000
  for (let t = 0; t < SIM_MS; t++) {
    while (nextArrival <= t) {
      queue.push({ arrived: nextArrival, left: -Math.log(1 - r()) * WORK_MS })
      nextArrival += -Math.log(1 - r()) / ratePerS * 1000
    }
    const ready = insts.filter((i) => i.readyAt <= t)
    while (queue.length > 0) {
      const inst = strategy.pick(ready, CONCURRENCY) as Inst | undefined
      if (inst === undefined) {
        const starting = insts.length - ready.length
        if (insts.length < MAX_SCALE && starting * CONCURRENCY < queue.length) insts.push({ inFlight: 0, lastUsedAt: t, readyAt: t + COLD_MS, reqs: [] })
        break
      }
      const req = queue.shift() as Req
      inst.reqs.push(req)
      inst.inFlight++
      inst.lastUsedAt = t
    }
    for (const inst of ready) {
      if (inst.reqs.length === 0) continue
      const share = 1 / inst.reqs.length
      for (const q of inst.reqs) q.left -= share
      const before = inst.reqs.length
      inst.reqs = inst.reqs.filter((q) => { if (q.left <= 0) { lat.push(t + 1 - q.arrived); return false } return true })
      if (inst.reqs.length !== before) inst.lastUsedAt = t
      inst.inFlight = inst.reqs.length
    }
    for (let k = insts.length - 1; k >= 0; k--) {
      const i = insts[k] as Inst
      if (i.readyAt <= t && i.inFlight === 0 && t - i.lastUsedAt >= KEEP_ALIVE_MS) insts.splice(k, 1)
    }
    instanceMs += insts.length
  }
  lat.sort((a, b) => a - b)
  return { p50: lat[Math.floor(lat.length * 0.5)] as number, p99: lat[Math.floor(lat.length * 0.99)] as number, instanceS: instanceMs / 1000, done: lat.length }
}

const strategies: Array<[string, (r: () => number) => DispatchStrategy]> = [
  ['busiest (today)', () => busiestFirst],
  ['jsq', () => joinShortestQueue],
  ['random', (r) => randomDispatch(r)],
  ['threshold (paper: random in the set)', (r) => new ThresholdDispatch({ random: r, choose: 'random' })],
  ['threshold (most recent in the set)', (r) => new ThresholdDispatch({ random: r, choose: 'recent' })]
]
const capacity = MAX_SCALE * 1000 / WORK_MS
console.log(`pool: ${MAX_SCALE} instances x ${CONCURRENCY} slots, work ${WORK_MS} ms (processor sharing), cold ${COLD_MS} ms, keep-alive ${KEEP_ALIVE_MS} ms, ${SIM_MS / 1000} s simulated; seed 5`)
console.log('| load (of all instances) | strategy | p50 ms | p99 ms | instance-s | p99 / busiest | instance-s / busiest |')
console.log('| --- | --- | --- | --- | --- | --- | --- |')
for (const load of [0.1, 0.3, 0.6]) {
  const rows = strategies.map(([name, make]) => ({ name, ...simulate(make, load * capacity, 5) }))
  const base = rows[0] as (typeof rows)[number]
  for (const x of rows) console.log(`| ${load} (${(load * capacity).toFixed(0)}/s) | ${x.name} | ${x.p50.toFixed(0)} | ${x.p99.toFixed(0)} | ${x.instanceS.toFixed(0)} | ${(x.p99 / base.p99).toFixed(2)} | ${(x.instanceS / base.instanceS).toFixed(2)} |`)
}
