/**
 * Decision cost of the prefetch policies, paired: two builds (a baseline dist/ and this one) run the timed part of
 * `npm run bench:prefetch` (the warm-up, then per trace every policy at its defaults and the three earlier iotless
 * defaults, in the same order, with the same simulate, and the untimed runs between traces; the synthetic scale run
 * and the SVGs are left out) in
 * separate processes, alternating, round by round. Per trace and policy: decision p99 and p50 per round, for each
 * build; and a check that both builds' outcomes (cold starts, wasted and keep-alive GB-s, p75) are identical. Each
 * process also times an empty timed region (the two process.hrtime.bigint() calls and the Float64Array store the
 * simulator makes around each step), so the timer's own cost stands beside the decision times.
 *
 *   npm run build && node dist/bench/prefetch/decisionCost.js [--base /work/main/dist] [--rounds 3] [TRACES_DIR]
 *   node dist/bench/prefetch/decisionCost.js --check [TRACES_DIR]
 *
 * --check: instead, step by step on every bench trace in full, the iotless decisions of this build against the
 * frozen reference (test/prefetch/reference), at the defaults and at the settings of EQUIVALENCE_VARIANTS.
 */
import { spawnSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

interface Row { trace: string, policy: string, coldStarts: number, waste: number, keepAliveWaste: number, p75: number, p50us: number, p99us: number, stateB: number }
interface ChildOut { rows: Row[], timerP50ns: number, timerP99ns: number }

const args = process.argv.slice(2)
const flag = (name: string): string | undefined => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined }
const here = resolve(fileURLToPath(import.meta.url), '..', '..', '..') // this build's dist/
const positional = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && ['--base', '--rounds', '--child'].includes(args[i - 1] ?? '')))
const tracesDir = positional[0] ?? join(process.cwd(), '..', 'shared', 'traces')

/** The bench's traces, loaded with the given build's loaders. */
async function benchTraces (dist: string): Promise<Array<[string, unknown]>> {
  const { loadTrace } = await import(pathToFileURL(join(dist, 'prefetch/traces/loadTrace.js')).href) as typeof import('../../prefetch/traces/loadTrace.js')
  const { sliceTrace } = await import(pathToFileURL(join(dist, 'prefetch/traces/traceWindow.js')).href) as typeof import('../../prefetch/traces/traceWindow.js')
  const a19 = loadTrace(join(tracesDir, 'azure2019-500fn-8h'), undefined)
  const half = Math.floor(a19.minutes / 2)
  return [
    ['a19-500 first half', sliceTrace(a19, 0, half)],
    ['a19-500 second half', sliceTrace(a19, half, a19.minutes)],
    ['a19-500 all 8 h', a19],
    ['azure2021', loadTrace(join(tracesDir, 'azure2021'), undefined)],
    ['ulb', loadTrace(join(tracesDir, 'ulb-sensornet-library1'), undefined)]
  ]
}

/** The child: the bench's timed sequence with the modules of `dist`. */
async function child (dist: string): Promise<void> {
  const mod = async <T>(p: string): Promise<T> => await import(pathToFileURL(join(dist, p)).href) as T
  const { simulate } = await mod<typeof import('../../prefetch/sim/simulate.js')>('prefetch/sim/simulate.js')
  const { createPolicy } = await mod<typeof import('../../prefetch/policies/policies.js')>('prefetch/policies/policies.js')
  const { compareAtDefaults, DEFAULT_RUNS } = await mod<typeof import('../../prefetch/sim/compareDefaults.js')>('prefetch/sim/compareDefaults.js')
  const { runSweep } = await mod<typeof import('../../prefetch/sim/sweep.js')>('prefetch/sim/sweep.js')
  type Trace = import('../../prefetch/traces/trace.js').Trace
  const traces = await benchTraces(dist) as Array<[string, Trace]>
  // As bench/prefetch/run.ts: the earlier iotless defaults, run after each trace's defaults.
  const earlier: Array<[string, Record<string, number>]> = [
    ['iotless, pre-issue-15 defaults', { hazardThreshold: 0.0005, maxThreshold: 0.5, priorTailShape: 0, minThreshold: 0.002, priorWeight: 1, slackThreshold: 0 }],
    ['iotless, first-session defaults', { hazardThreshold: 0.003, maxThreshold: 0.1, priorTailShape: 1, minThreshold: 0.002, priorWeight: 1, slackThreshold: 0 }],
    ['iotless, second-session defaults (no own tail)', { tailPseudoCount: 0 }]
  ]
  const first = traces[0]?.[1]
  if (first === undefined) throw new Error('no traces')
  for (const [p, params] of DEFAULT_RUNS) simulate(first, createPolicy(p, params)) // the bench's warm-up
  const rows: Row[] = []
  const row = (trace: string, policy: string, r: import('../../prefetch/sim/simulate.js').SimResult): Row => ({
    trace, policy, coldStarts: r.coldStarts, waste: r.wastedMemoryGbSeconds, keepAliveWaste: r.keepAliveWasteGbSeconds, p75: r.p75FunctionColdStartPct, p50us: r.decisionMicrosP50, p99us: r.decisionMicrosP99, stateB: r.stateBytesPerFunctionMean
  })
  for (const [name, trace] of traces) {
    for (const r of compareAtDefaults(trace).results) rows.push(row(name, r.policy, r))
    for (const [label, params] of earlier) rows.push(row(name, label, simulate(trace, createPolicy('iotless', params))))
    // The untimed runs the bench makes before the next trace (waste breakdown, sweep), so the JIT sees what it sees.
    simulate(trace, createPolicy('fixed', { keepAliveMin: 0 }), { perFunction: true, timeDecisions: false })
    for (const p of ['iotless', 'spes', 'faascache', 'hybrid']) simulate(trace, createPolicy(p, {}), { perFunction: true, timeDecisions: false })
    runSweep(trace)
  }
  // The timer alone, as the simulator uses it around each step.
  const n = 240_000
  const ns = new Float64Array(n)
  let k = 0
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint()
    ns[k++] = Number(process.hrtime.bigint() - t0)
  }
  ns.sort()
  const out: ChildOut = { rows, timerP50ns: ns[n / 2] ?? NaN, timerP99ns: ns[Math.ceil(0.99 * n) - 1] ?? NaN }
  process.stdout.write(JSON.stringify(out) + '\n')
}

async function check (): Promise<void> {
  const { compareDecisions, EQUIVALENCE_VARIANTS } = await import('../../test/prefetch/reference/compareDecisions.js')
  const { IotlessPolicyV1 } = await import('../../test/prefetch/reference/iotlessPolicyV1.js')
  const { IotlessPolicy } = await import('../../prefetch/policies/iotlessPolicy.js')
  type Trace = import('../../prefetch/traces/trace.js').Trace
  let bad = 0
  for (const [name, trace] of await benchTraces(here) as Array<[string, Trace]>) {
    for (const params of EQUIVALENCE_VARIANTS) {
      const r = compareDecisions(trace, new IotlessPolicyV1(params), new IotlessPolicy(params))
      if (r.mismatch !== undefined) bad++
      process.stdout.write(`- ${name}, ${JSON.stringify(params)}: ${r.steps} steps, ${r.mismatch === undefined ? 'every decision identical' : 'MISMATCH ' + JSON.stringify(r.mismatch)}\n`)
    }
  }
  process.stdout.write(bad === 0 ? 'all identical\n' : `${bad} runs differ\n`)
  if (bad > 0) process.exitCode = 1
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] ?? NaN) : ((s[m - 1] ?? NaN) + (s[m] ?? NaN)) / 2
}

async function parent (): Promise<void> {
  const base = resolve(flag('--base') ?? '/work/main/dist')
  const rounds = Number(flag('--rounds') ?? '3')
  const self = fileURLToPath(import.meta.url)
  const load0 = loadavg()
  const started = new Date().toISOString()
  const runs: Record<'base' | 'head', ChildOut[]> = { base: [], head: [] }
  for (let r = 0; r < rounds; r++) {
    const order: Array<'base' | 'head'> = r % 2 === 0 ? ['base', 'head'] : ['head', 'base']
    for (const which of order) {
      const dist = which === 'base' ? base : here
      const res = spawnSync(process.execPath, [self, '--child', dist, tracesDir], { encoding: 'utf8', maxBuffer: 64 << 20 })
      if (res.status !== 0) throw new Error(`${which} child failed: ${res.stderr}`)
      runs[which].push(JSON.parse(res.stdout) as ChildOut)
      process.stderr.write(`round ${r + 1} ${which} done, load ${loadavg()[0]?.toFixed(2)}\n`)
    }
  }
  const load1 = loadavg()
  const f2 = (x: number): string => x.toFixed(2)
  const lines: string[] = []
  lines.push(`Paired, ${rounds} rounds alternating (base first in odd rounds), separate processes; base ${base}, head ${here}; started ${started}; load average ${load0.map(f2).join(' ')} at start, ${load1.map(f2).join(' ')} at the end.`)
  lines.push('')
  lines.push('| trace | policy | outcomes identical | base p99 us, per round | head p99 us, per round | median head/base | base p50 us | head p50 us |')
  lines.push('| --- | --- | --- | --- | --- | ---: | ---: | ---: |')
  const first = runs.base[0]
  let allSame = true
  for (const [i, b0] of (first?.rows ?? []).entries()) {
    const bs = runs.base.map((c) => c.rows[i])
    const hs = runs.head.map((c) => c.rows[i])
    const same = [...bs, ...hs].every((x) => x !== undefined && x.trace === b0.trace && x.policy === b0.policy && x.coldStarts === b0.coldStarts && x.waste === b0.waste && x.keepAliveWaste === b0.keepAliveWaste && x.p75 === b0.p75 && x.stateB === b0.stateB)
    if (!same) allSame = false
    const bp = bs.map((x) => x?.p99us ?? NaN)
    const hp = hs.map((x) => x?.p99us ?? NaN)
    lines.push(`| ${b0.trace} | ${b0.policy} | ${same ? 'yes' : 'NO'} (${b0.coldStarts} cold, ${Math.round(b0.waste)} GB-s, p75 ${f2(b0.p75)}, ${Math.round(b0.stateB)} B/fn) | ${bp.map(f2).join(', ')} | ${hp.map(f2).join(', ')} | ${f2(median(hp) / median(bp))} | ${f2(median(bs.map((x) => x?.p50us ?? NaN)))} | ${f2(median(hs.map((x) => x?.p50us ?? NaN)))} |`)
  }
  lines.push('')
  lines.push(`Outcomes (cold starts, wasted and keep-alive GB-s, p75, state) identical across builds and rounds for every row: ${allSame ? 'yes' : 'NO'}.`)
  lines.push(`The timer alone (two process.hrtime.bigint() and a store, empty region), per process: p50 ${[...runs.base, ...runs.head].map((c) => c.timerP50ns).join('/')} ns, p99 ${[...runs.base, ...runs.head].map((c) => c.timerP99ns).join('/')} ns (base rounds, then head rounds).`)
  process.stdout.write(lines.join('\n') + '\n')
}

const childDist = flag('--child')
if (childDist !== undefined) await child(childDist)
else if (args.includes('--check')) await check()
else await parent()
