import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { simulateRequests, type RequestSimOptions } from '../../adapters/runtime/sim/requestSim.js'
import { loadRequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import type { SpawnRecord } from '../../adapters/runtime/sim/simPool.js'
import { priceSummary } from '../../cli/simRequest.js'

/**
 * node dist/bench/capacity/noReadyBursts.js: on the tuning half of Azure 2019 only (08:00-12:00, seed 1), the
 * instances the SLO sizer starts, by what stood when each started: none of the function's instances ready (a
 * no-ready burst; the first of it, or one beside others already starting), with the service time unmeasured or
 * measured; or some ready. For each: how many, their instance-seconds (start to stop, cold start included), how
 * many served no request, and the requests they served (within the wait objective or not). Beside KPA-like's
 * totals. IOTLESS_DIAG_ROWS=json adds rows ([name, sloSettings, warmPrice?] triples; a warmPrice left out
 * or null is the box's default, BOX_WARM_PRICE, so name holdWhilePaying and downAfter to get another rule); IOTLESS_START_SHARING=processor runs every
 * row (KPA-like too) with starts sharing the CPUs as processes do (sharedStarts.ts); IOTLESS_START_GATE=N runs every row
 * behind a box-wide start gate of N (capacity/startGate.ts; 0 or unset: none). A feedback-price row also prints how
 * its price moved. Reads nothing of the held-out data.
 */
const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const traces = process.env.IOTLESS_TRACES ?? resolve(repoRoot, '..', 'shared', 'traces')
const sharing = process.env.IOTLESS_START_SHARING === 'processor' ? 'processor' : 'atStart'
const gate = Number(process.env.IOTLESS_START_GATE ?? 0)
const base: Partial<RequestSimOptions> = { maxScale: 256, coldStartMs: 250, coldStartCpus: 2, keepAliveMs: 600_000, fixedInstances: 1, slo: { waitMs: 100, percentile: 0.95 }, coldStartSharing: sharing, maxConcurrentStarts: gate }
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')
const pct = (x: number): string => (x * 100).toFixed(2) + '%'

const train = loadRequestTrace(join(traces, 'azure2019-500fn-8h'), 'azure2019', { seed: 1, lengthMs: 14_400_000 })
const rows: Array<[string, Partial<RequestSimOptions>]> = [
  ['slo, fixed price 60 s (attainmentTarget 0; the default until the ninth round)', { scaler: 'slo', sloSettings: { idleSecondsPerColdStart: 60, attainmentTarget: 0 } }]
]
for (const [name, s, w] of JSON.parse(process.env.IOTLESS_DIAG_ROWS ?? '[]') as Array<[string, object, object | undefined]>) rows.push([name, { scaler: 'slo', sloSettings: s, warmPrice: w }])

type Kind = 'no ready, first start, service unknown' | 'no ready, beside others starting, service unknown' | 'no ready, first start, service known' | 'no ready, beside others starting, service known' | 'some ready'
const kindOf = (s: SpawnRecord): Kind => !s.noReady
  ? 'some ready'
  : `no ready, ${s.startingAtSpawn === 0 ? 'first start' : 'beside others starting'}, service ${s.serviceKnown ? 'known' : 'unknown'}` as Kind

process.stdout.write(`load before ${load()}; ${new Date().toISOString()}; cold starts share the CPUs: ${sharing}; start gate: ${gate}\n`)
const kpa = simulateRequests(train, { ...base, scaler: 'kpa' })
process.stdout.write(`\nkpa (Knative defaults): ${pct(kpa.sloAttainment)} within, ${kpa.instanceSeconds.toFixed(0)} inst-s, ${kpa.spawns} started\n`)
for (const [name, o] of rows) {
  const r = simulateRequests(train, { ...base, ...o, spawnLog: true })
  const endMs = r.simulatedSeconds * 1000
  const within = r.perFunction.reduce((n, f) => n + f.withinSlo, 0)
  process.stdout.write(`\n${name}: ${pct(r.sloAttainment)} within (${within} of ${r.requests}), ${r.instanceSeconds.toFixed(0)} inst-s (${(r.instanceSeconds / kpa.instanceSeconds).toFixed(4)}x KPA), ${r.spawns} started${r.warmPriceSteps === undefined ? '' : '; price ' + priceSummary(r.warmPriceSteps)}\n\n`)
  process.stdout.write('| started when | instances | in first 600 s | instance-seconds | served none | their instance-seconds | requests served | of them within SLO |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n')
  const acc = new Map<Kind, { n: number; early: number; is: number; idle: number; idleIs: number; served: number; within: number }>()
  for (const f of r.perFunction) {
    for (const s of f.spawnLog ?? []) {
      const k = kindOf(s)
      const a = acc.get(k) ?? { n: 0, early: 0, is: 0, idle: 0, idleIs: 0, served: 0, within: 0 }
      a.n++
      if (s.spawnedAt < 600_000) a.early++
      const life = ((Number.isNaN(s.endAt) ? endMs : s.endAt) - s.spawnedAt) / 1000
      a.is += life
      if (s.served === 0) { a.idle++; a.idleIs += life }
      a.served += s.served
      a.within += s.servedWithin
      acc.set(k, a)
    }
  }
  for (const [k, a] of [...acc].sort()) process.stdout.write(`| ${k} | ${a.n} | ${a.early} | ${a.is.toFixed(0)} | ${a.idle} | ${a.idleIs.toFixed(0)} | ${a.served} | ${a.within} |\n`)
}
process.stdout.write(`\nload after ${load()}; ${new Date().toISOString()}\n`)
