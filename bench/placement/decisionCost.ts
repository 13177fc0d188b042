/**
 * `node dist/bench/placement/decisionCost.js`: what one placement decision costs, beside its baseline (a
 * route with one target: a Map lookup, no decision), in one run. The predictors are trained first, so the
 * fits are full (alone and shared); the first tier reports its load, as the local pool does, with other work on
 * the machine, so its prediction scans the near points of the shared fit.
 */
import { ManualClock } from '../../core/clock.js'
import { PlacementTarget, type Tier } from '../../adapters/placement/placementTarget.js'
import type { Target } from '../../adapters/target.js'
import { ArrivalLoad } from '../../adapters/placement/arrivalLoad.js'
import { LinkQueue } from '../../adapters/placement/linkQueue.js'

const arrivals = new ArrivalLoad(() => 29_000)
for (let k = 0; k < 30; k++) { arrivals.arrived(); arrivals.served(60) }
const link = new LinkQueue(() => performance.now())
link.msPerByte = 0.001
const noop: Target = { kind: 'x', dispatch: async () => ({ status: 'ok' }), load: () => ({ inFlight: 1, queued: 1, warmInstances: 1, otherInFlight: 1, utilization: arrivals.utilization(), competingServiceMs: arrivals.serviceSamples(), work: [{ bytes: 12_000, elapsedMs: 3 }, { bytes: 8000, elapsedMs: undefined }] }), close: async () => {} }

function placement (tiers: number): PlacementTarget {
  const list: Tier[] = Array.from({ length: tiers }, (_, i) => ({ name: `t${i}`, target: noop, slots: 4, ...(i === 0 ? { perInstance: 1 } : { link }) }))
  let s = 1
  const p = new PlacementTarget({ label: 'r', tiers: list, mode: 'fastest', explore: 0.02, clock: new ManualClock(), random: () => { s = (s * 48271) % 2147483647; return s / 2147483647 } })
  for (let i = 0; i < tiers; i++) {
    for (let k = 0; k < 24; k++) p.predictor('fn', i).observe({ bytes: 1000 * (k + 1), totalMs: 10 + i * 5 + k, handlerMs: 5 + k / 2, queuedAhead: 0 })
    // Runs beside other work on the machine: the local tier predicts from this fit (its load says one other is running).
    for (let k = 0; k < 24; k++) p.predictor('fn', i).observe({ bytes: 1000 * (k + 1), totalMs: 20 + i * 5 + k, handlerMs: 10 + k / 2, queuedAhead: 0, sharing: 1 })
  }
  return p
}

function timeNs (label: string, n: number, fn: (i: number) => void): number {
  for (let i = 0; i < 20_000; i++) fn(i) // warm-up (JIT)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) fn(i)
  const ns = Number(process.hrtime.bigint() - t0) / n
  console.log(`${label.padEnd(40)} ${ns.toFixed(0).padStart(7)} ns`)
  return ns
}

const N = 500_000
const map = new Map<string, Target>([['local', noop]])
let sink = 0
const base = timeNs('baseline: one target (Map.get)', N, (i) => { if (map.get(i % 2 === 0 ? 'local' : 'local') !== undefined) sink++ })
const rows: Array<[number, number]> = []
for (const tiers of [2, 4]) {
  const p = placement(tiers)
  rows.push([tiers, timeNs(`placement.decide, ${tiers} tiers`, N, (i) => { sink += p.decide('fn', 1000 + (i % 50_000)).order[0] as number })])
}
console.log(`(${sink > 0 ? 'ran' : ''})`)
for (const [tiers, ns] of rows) console.log(`${tiers} tiers: ${(ns / 1000).toFixed(2)} us per decision, ${(ns / base).toFixed(0)}x the baseline; target < 20 us: ${ns < 20_000 ? 'met' : 'NOT met'}`)
