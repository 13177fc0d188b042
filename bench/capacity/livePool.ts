import { execSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeResultsSection } from '../writeResultsSection.js'
import { guaranteeLive, type GuaranteeLiveOptions, type GuaranteeLiveResult } from './guaranteeLive.js'
import { preInvokeOnTrace, ulbReadings } from './preInvokeTrace.js'
import { compareReprovision, median, type Reprovision } from './reprovision.js'

/**
 * npm run bench:capacity:live: the live pool's side of issue 12, each beside its baseline in one run:
 * re-provisioning (a forked instance vs one from a spare process, interleaved), the guarantee under 10x overload
 * (admission breaker vs one shared FIFO), and pre-invocation on the ULB readings (model on a simulated clock: always
 * reserved vs pre-invoked vs a reactive pool). Writes the section "Capacity: live pool" of bench/RESULTS.md.
 */
const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
const traces = process.env.IOTLESS_TRACES ?? resolve(repoRoot, '..', 'shared', 'traces')
const load = (): string => loadavg().map((x) => x.toFixed(1)).join(' ')
const f0 = (x: number): string => Number.isFinite(x) ? x.toFixed(0) : '-'
const f1 = (x: number): string => Number.isFinite(x) ? x.toFixed(1) : '-'
const seconds = Number(process.env.GUARANTEE_SECONDS ?? 15)
const seeds = [1, 2, 3]

async function main (): Promise<void> {
  const lines: string[] = ['## Capacity: live pool', '']
  lines.push(`Run ${new Date().toISOString()} on a shared 2-core machine (other helpers' tests and benches running); load average before ${load()}. Reproduce: \`npm run bench:capacity:live\`.`, '')

  // 1. Re-provisioning.
  const runs = 7
  const settleMs = 1000
  const rp = await compareReprovision(runs, settleMs)
  const stats = (xs: Reprovision[]): { ready: number; max: number; alloc: number; ph: Record<string, number> } => {
    const ph: Record<string, number> = {}
    for (const k of ['exec', 'boot', 'spec', 'import', 'listen', 'readyMessage'] as const) ph[k] = median(xs.map((x) => x.phases?.[k] ?? NaN).filter(Number.isFinite))
    return { ready: median(xs.map((x) => x.instanceReadyMs)), max: Math.max(...xs.map((x) => x.instanceReadyMs)), alloc: median(xs.map((x) => x.allocationMs)), ph }
  }
  const fk = stats(rp.fork)
  const sp = stats(rp.spare)
  lines.push('### Re-provisioning', '',
    `A box of 2 instances, function a holding both with work in flight, then function b's first request (bench/capacity/reprovision.ts); the box at rest for ${settleMs} ms before the overload (a's instances and the replacement spare standing); ${runs} runs of each, interleaved. No writable cgroup here: a is not deflated, b starts at once and a gives its instance back when idle.`, '',
    '| b\'s instance | overload -> allocation applied, median ms | overload -> b\'s instance ready, median / max ms | fork+exec | node boot + SDK | spec sent | import module | listen | ready message |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    `| forked (before) | ${f1(fk.alloc)} | ${f0(fk.ready)} / ${f0(fk.max)} | ${f1(fk.ph.exec ?? NaN)} | ${f1(fk.ph.boot ?? NaN)} | ${f1(fk.ph.spec ?? NaN)} | ${f1(fk.ph.import ?? NaN)} | ${f1(fk.ph.listen ?? NaN)} | ${f1(fk.ph.readyMessage ?? NaN)} |`,
    `| from a spare process (ours) | ${f1(sp.alloc)} | ${f0(sp.ready)} / ${f0(sp.max)} | - | - (booted before) | ${f1(sp.ph.spec ?? NaN)} | ${f1(sp.ph.import ?? NaN)} | ${f1(sp.ph.listen ?? NaN)} | ${f1(sp.ph.readyMessage ?? NaN)} |`,
    '', `Ratio of medians (ready): ${(fk.ready / sp.ready).toFixed(1)}x. Target < 500 ms: ${sp.max < 500 ? 'met' : 'missed'} with spares (max ${f0(sp.max)} ms); forked median ${f0(fk.ready)} ms. Phases are medians, ms. Load after: ${load()}.`, '')
  process.stderr.write(`  re-provisioning done (load ${load()})\n`)

  // 2. The guarantee under overload.
  const opts: GuaranteeLiveOptions = { boxInstances: 4, durationMs: seconds * 1000, hogs: 3, hogServiceMs: 200, offeredTimesBox: 10, guarantee: { ratePerSec: 5, burst: 2 }, guaranteedServiceMs: 50, guaranteedOfferedTimes: 16, waitMs: 100 }
  const rows: Array<{ seed: number; ours: GuaranteeLiveResult; fifo: GuaranteeLiveResult }> = []
  for (const seed of seeds) {
    const ours = await guaranteeLive({ ...opts, seed })
    const fifo = await guaranteeLive({ ...opts, seed, priority: false })
    rows.push({ seed, ours, fifo })
    process.stderr.write(`  guarantee seed ${seed} done (load ${load()})\n`)
  }
  const cell = (r: GuaranteeLiveResult): string => `${r.admittedWithin} / ${r.admitted + r.admittedFailed} (${(100 * r.admittedWithin / Math.max(1, r.admitted + r.admittedFailed)).toFixed(1)}%), max wait ${f0(r.admittedWaitMsMax)} ms, ${r.admittedFailed} failed, ${r.admittedMissedWithSlotFree} missed with a slot free`
  lines.push('### Guarantee under overload (live)', '',
    `A box of ${opts.boxInstances} instances, real child processes (bench/capacity/guaranteeLive.ts). Guaranteed function: ${opts.guarantee.ratePerSec}/s, burst ${opts.guarantee.burst}, ${opts.guaranteedServiceMs} ms a call, offered ${opts.guaranteedOfferedTimes}x its rate (Poisson), reservation kept warm; ${opts.hogs} best-effort functions, ${opts.hogServiceMs} ms a call, offered ${opts.offeredTimesBox}x the box's capacity (Poisson); ${seconds} s per run; SLO: wait <= ${opts.waitMs} ms. Baseline: the same pool and reservation with admitted and overflow in one FIFO (the pool before this change).`, '',
    '| seed | others offered (x box) | ours: admitted within SLO | one FIFO: admitted within SLO | ours: own overflow served / refused | event-loop delay max / p99 ms (ours) | spare starts / starts (ours) |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map(({ seed, ours, fifo }) => `| ${seed} | ${ours.offeredTimesBox.toFixed(1)} | ${cell(ours)} | ${cell(fifo)} | ${ours.overflow} / ${ours.overflowRefused} | ${f0(ours.eventLoopDelayMsMax)} / ${f0(ours.eventLoopDelayMsP99)} | ${ours.spareStarts} / ${ours.spawns} |`), '')
  const tot = (k: 'ours' | 'fifo'): [number, number] => rows.reduce<[number, number]>((a, r) => [a[0] + r[k].admittedWithin, a[1] + r[k].admitted + r[k].admittedFailed], [0, 0])
  const [ow, on] = tot('ours')
  const [fw, fn] = tot('fifo')
  lines.push(`All runs: ours ${ow} / ${on} (${(100 * ow / Math.max(1, on)).toFixed(2)}%) within the SLO, one FIFO ${fw} / ${fn} (${(100 * fw / Math.max(1, fn)).toFixed(2)}%). Target 100%: ${ow === on ? 'met' : 'missed'}. Load after: ${load()}.`, '')

  // 3. Pre-invocation on the ULB readings.
  const byNode = ulbReadings(join(traces, 'ulb-sensornet-library1'))
  const cold = Math.round(fk.ready)
  lines.push('### Pre-invocation on a periodic trace (simulated clock)', '',
    `ULB sensing packets (R1..R3): ${byNode.size} nodes, one reading a minute each, as ${byNode.size} guaranteed functions of one instance; 50 ms a call; cold start ${cold} ms (the forked start measured above); SLO wait <= 100 ms. The pre-invoker and period finder are the live objects (adapters/runtime/capacity/preInvoker.ts, periodicPredictor.ts) on a ManualClock (bench/capacity/preInvokeModel.ts).`, '',
    '| pool | reserved instance-seconds | vs always reserved | cold starts (of them: while let go) | within SLO | instances started | expected bursts hit / late / missed |', '| --- | --- | --- | --- | --- | --- | --- |')
  const base = { coldStartMs: cold, serviceMs: 50, keepAliveMs: 10_000, graceMs: 1000, waitMs: 100 }
  const [reserved, reactive] = preInvokeOnTrace(byNode, { ...base, leadMs: 2000 }, ['reserved', 'reactive'])
  const row = (name: string, r: NonNullable<typeof reserved>): string => `| ${name} | ${f0(r.instanceSeconds)} | ${(r.instanceSeconds / (reserved?.instanceSeconds ?? 1)).toFixed(3)} | ${r.coldStarts}${r.mode === 'preinvoke' ? ` (${r.coldWhileReleased})` : ''} | ${(100 * r.withinSlo / r.arrivals).toFixed(2)}% | ${r.instancesStarted} | ${r.mode === 'preinvoke' ? `${r.hits} / ${r.late} / ${r.missed}` : '-'} |`
  if (reserved !== undefined) lines.push(row('guarantee, always reserved (before)', reserved))
  for (const lead of [1000, 2000, 5000]) {
    const [r] = preInvokeOnTrace(byNode, { ...base, leadMs: lead, graceMs: lead / 2 }, ['preinvoke'])
    if (r !== undefined) lines.push(row(`pre-invoked, lead ${lead} ms, grace ${lead / 2} ms (ours)`, r))
  }
  if (reactive !== undefined) lines.push(row('no guarantee, reactive, keep-alive 10 s', reactive))
  lines.push('', 'The cold starts left with pre-invocation are readings that came while the instance was let go (off the learned phase: a node restarting, a reading late; the pre-invoker then holds the reservation until the arrivals are periodic again) and late ones (in the window, the instance still starting: a lead shorter than the cold start). Missed: windows without a reading (lost packets).', '')
  lines.push(`Load average after: ${load()}. Node ${process.version}; commit ${gitHead()}.`, '')
  const path = writeResultsSection(repoRoot, 'Capacity: live pool', lines.join('\n'))
  process.stdout.write(lines.join('\n') + `\nwrote ${path}\n`)
}

function gitHead (): string {
  try { return execSync('git rev-parse --short HEAD', { cwd: repoRoot, encoding: 'utf8' }).trim() } catch { return 'unknown' }
}

await main()
