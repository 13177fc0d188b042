import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { simulateRequests, type RequestSimOptions, type RequestSimResult } from '../../adapters/runtime/sim/requestSim.js'
import { loadRequestTrace, type RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'

/**
 * node dist/bench/capacity/warmPriceDiagnose.js: where the feedback price's instance-seconds and misses go, on the
 * tuning half of Azure 2019 only (08:00-12:00, seed 1), against the fixed 60 s price, window by window (600 s, the
 * batch's length): the price in effect, misses by cause, instance-seconds and instances started; and the first
 * batch's misses by cause. Reads nothing of the held-out data. IOTLESS_DIAG_ROWS=json adds rows
 * ([name, sloSettings, warmPrice] triples) compared the same way.
 */
const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const traces = process.env.IOTLESS_TRACES ?? resolve(repoRoot, '..', 'shared', 'traces')
const base: Partial<RequestSimOptions> = { maxScale: 256, coldStartMs: 250, coldStartCpus: 2, keepAliveMs: 600_000, fixedInstances: 1, scaler: 'slo', slo: { waitMs: 100, percentile: 0.95 }, keepOutcomes: true, probeEveryMs: 600_000 }
const WAIT = 100
const MIN_GAPS = 3
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')

type Cause = 'startup' | 'coldEarly' | 'coldFloor' | 'queueUnknown' | 'queueKnown' | 'refused'
const CAUSES: Cause[] = ['startup', 'coldEarly', 'coldFloor', 'queueUnknown', 'queueKnown', 'refused']

/** Every missed request with its arrival time and cause. */
function misses (trace: RequestTrace, r: RequestSimResult): Array<{ t: number; cause: Cause }> {
  const out: Array<{ t: number; cause: Cause }> = []
  trace.functions.forEach((fn, f) => {
    const o = r.perFunction[f]?.outcome
    if (o === undefined) return
    const a = fn.arrivalsMs
    const firstReady = (a[0] ?? 0) + (o.waitMs[0] ?? 0)
    const firstDone = firstReady + (fn.durationsMs[0] ?? 0)
    for (let i = 0; i < a.length; i++) {
      const w = o.waitMs[i] ?? NaN
      if (w <= WAIT) continue
      const t = a[i] ?? 0
      let cause: Cause
      if (Number.isNaN(w)) cause = 'refused'
      else if (t < firstReady) cause = 'startup'
      else if (o.cold[i] === 1) cause = i <= MIN_GAPS ? 'coldEarly' : 'coldFloor'
      else cause = t < firstDone ? 'queueUnknown' : 'queueKnown'
      out.push({ t, cause })
    }
  })
  return out
}

const train = loadRequestTrace(join(traces, 'azure2019-500fn-8h'), 'azure2019', { seed: 1, lengthMs: 14_400_000 })
const rows: Array<[string, Partial<RequestSimOptions>]> = [
  ['fixed 60 s', { sloSettings: { idleSecondsPerColdStart: 60, attainmentTarget: 0 } }],
  ['feedback (A, start-up apart)', { sloSettings: { attainmentTarget: 0.99 }, warmPrice: { holdWhilePaying: false, downAfter: 1 } }]
]
for (const [name, s, w] of JSON.parse(process.env.IOTLESS_DIAG_ROWS ?? '[]') as Array<[string, object, object]>) rows.push([name, { sloSettings: s, warmPrice: w }])

process.stdout.write(`load before ${load()}; ${new Date().toISOString()}\n`)
const runs = rows.map(([name, o]) => {
  const r = simulateRequests(train, { ...base, ...o })
  return { name, r, m: misses(train, r) }
})
for (const { name, r, m } of runs) {
  const by = Object.fromEntries(CAUSES.map((c) => [c, m.filter((x) => x.cause === c).length]))
  process.stdout.write(`\n## ${name}: ${(100 * r.sloAttainment).toFixed(2)}% within, ${r.instanceSeconds.toFixed(0)} inst-s, ${r.spawns} started; misses ${JSON.stringify(by)}\n`)
  const steps = r.warmPriceSteps ?? []
  const first = steps[0]?.atMs
  if (first !== undefined) {
    const fb = Object.fromEntries(CAUSES.map((c) => [c, m.filter((x) => x.cause === c && x.t < first).length]))
    process.stdout.write(`first batch (to ${(first / 1000).toFixed(0)} s): ${JSON.stringify(fb)}; judged ${steps[0]?.misses} of ${steps[0]?.allowed.toFixed(0)} allowed\n`)
  }
  process.stdout.write('| window end s | price s | inst-s | started | ' + CAUSES.join(' | ') + ' |\n')
  const probe = r.probe ?? []
  let prevI = 0
  let prevS = 0
  let prevT = 0
  for (const p of probe) {
    let price = NaN
    for (const s of steps) if (s.atMs <= prevT) price = s.seconds
    const w = m.filter((x) => x.t >= prevT && x.t < p.atMs)
    const cells = CAUSES.map((c) => w.filter((x) => x.cause === c).length)
    process.stdout.write(`| ${(p.atMs / 1000).toFixed(0)} | ${Number.isNaN(price) ? 'start' : price.toFixed(1)} | ${(p.instanceSeconds - prevI).toFixed(0)} | ${p.spawns - prevS} | ${cells.join(' | ')} |\n`)
    prevI = p.instanceSeconds
    prevS = p.spawns
    prevT = p.atMs
  }
}
process.stdout.write(`\nload after ${load()}; ${new Date().toISOString()}\n`)
