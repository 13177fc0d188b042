import { execSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadRequestTrace, type RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import type { ScalerKind } from '../../adapters/runtime/capacity/scaler.js'
import { writeResultsSection } from '../writeResultsSection.js'
import { liveCheck } from './liveCheck.js'

/**
 * npm run bench:capacity:warmfloor: the SLO sizer's warm floor and ready headroom in a live pool (real
 * child processes) beside the KPA-like scaler and today's reactive pool, and beside the simulator given the cold
 * start the live run saw. Sparse functions are where the floor decides: a slice of Azure 2019's tuning half (first
 * 4 h; never its held-out second half), functions arriving every 5 s to every minute, short service, in real time.
 * Writes the section "Capacity: warm floor live" of bench/RESULTS.md.
 */
const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const traces = process.env.IOTLESS_TRACES ?? resolve(repoRoot, '..', 'shared', 'traces')
const seconds = Number(process.env.WARM_FLOOR_SECONDS ?? 240)
const count = Number(process.env.WARM_FLOOR_FUNCTIONS ?? 6)
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')
const pct = (x: number): string => (100 * x).toFixed(1) + '%'
const f0 = (x: number): string => Number.isFinite(x) ? x.toFixed(0) : '-'

/** Functions of a slice with 1 request a minute to 1 every 5 s and a mean service under 1 s, the busiest first. */
function sparseSlice (): RequestTrace {
  const all = loadRequestTrace(join(traces, 'azure2019-500fn-8h'), 'azure2019', { seed: 1, fromMs: 3_600_000, lengthMs: seconds * 1000 })
  const per = (n: number): number => n / seconds
  const fns = all.functions.filter((f) => {
    let s = 0
    for (const d of f.durationsMs) s += d
    const r = per(f.arrivalsMs.length)
    return r >= 1 / 60 && r <= 1 / 5 && s / f.arrivalsMs.length < 1000
  }).sort((a, b) => b.arrivalsMs.length - a.arrivalsMs.length).slice(0, count)
  return { ...all, functions: fns }
}

async function main (): Promise<void> {
  const trace = sparseSlice()
  let n = 0
  for (const f of trace.functions) n += f.arrivalsMs.length
  const lines = ['## Capacity: warm floor live', '',
    `Run ${new Date().toISOString()} on a shared 2-core machine; load average before ${load()}. Reproduce: \`npm run bench:capacity:warmfloor\` (WARM_FLOOR_SECONDS=${seconds}, WARM_FLOOR_FUNCTIONS=${count}).`, '',
    `Azure 2019, tuning half only: ${trace.functions.length} functions arriving every 5 s to every minute (mean service < 1 s), ${n} requests, from 09:00 (1 h into the slice) for ${seconds} s in real time; the handler sleeps each request's service time; real child processes, maxScale 4, keep-alive 600 s. The simulator is given the mean cold start the live run saw. Within SLO: wait <= 100 ms (a cold start here takes several hundred ms: every request that waits on one misses).`, '',
    '| scaler | live within SLO | sim within SLO | live / sim instance-seconds | live / sim instances started | live p50 / p95 ms | live cold start mean |', '| --- | --- | --- | --- | --- | --- | --- |']
  const kinds: ScalerKind[] = ['reactive', 'kpa', 'slo']
  for (const kind of kinds) {
    const c = await liveCheck(trace, kind, { maxScale: 4 })
    lines.push(`| ${kind} | ${pct(c.live.withinSlo / n)} | ${pct(c.sim.sloAttainment)} | ${c.live.instanceSeconds.toFixed(0)} / ${c.sim.instanceSeconds.toFixed(0)} | ${c.live.spawns} / ${c.sim.spawns} | ${f0(c.live.latencyMsP50)} / ${f0(c.live.latencyMsP95)} | ${f0(c.liveColdStartMs)} ms |`)
    process.stderr.write(`  warm floor live ${kind} done (load ${load()})\n`)
  }
  lines.push('', `Load average after: ${load()}. Node ${process.version}; commit ${gitHead()}.`, '')
  const path = writeResultsSection(repoRoot, 'Capacity: warm floor live', lines.join('\n'))
  process.stdout.write(lines.join('\n') + `\nwrote ${path}\n`)
}

function gitHead (): string {
  try { return execSync('git rev-parse --short HEAD', { cwd: repoRoot, encoding: 'utf8' }).trim() } catch { return 'unknown' }
}

await main()
