/**
 * `npm run bench:placement`: STOIC-style placement between an edge tier and a cloud tier, with real processes.
 * - edge: the local pool (text-detect, one instance) held to EDGE_CORES of a core by a cgroup v1 CPU quota;
 * - cloud: the same function under `iotless fn serve`, behind a user-space WAN emulator (RTT, capped bandwidth);
 * - work: text-detect on test/fixtures/images/text.png scaled to several sizes (sharp, JPEG);
 * - load: arrivals follow the per-minute rate shape of the busiest http function of the Azure 2019 trace
 *   (one trace minute per bench second), scaled to RATE requests per second on average;
 * - oracle: every request of the schedule also runs on every tier (the edge-only and cloud-only runs); per
 *   request, the faster of the two is the right answer and its time the oracle's.
 * Edge-only, cloud-only and placement run the same schedule in one run. The placement learns on a warm-up
 * schedule (other seed) first and is reported on the measured one (out of sample).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import sharp from 'sharp'
import { systemClock } from '../../core/clock.js'
import { createLogger } from '../../core/log.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { LocalTarget } from '../../adapters/runtime/localTarget.js'
import { KnativeTarget } from '../../adapters/targets/knativeTarget.js'
import { PlacementTarget, type PlacementRecord } from '../../adapters/placement/placementTarget.js'
import type { OutgoingEvent, Target } from '../../adapters/target.js'
import { startWanProxy } from './wanProxy.js'
import { writeResultsSection } from '../writeResultsSection.js'

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))
const num = (name: string, d: number): number => { const v = process.env[name]; return v === undefined ? d : Number(v) }
const EDGE_CORES = num('EDGE_CORES', 0.25)
const RTT_MS = num('RTT_MS', 40)
const BW = num('BW_BYTES', 1_000_000)
const SECONDS = num('SECONDS', 30)
const RATE = num('RATE', 0.6)
/** Slots the placement gives the cloud tier (a Knative target's default connections); the one bench process runs one model at a time, CLOUD_SLOTS=1 says so. */
const CLOUD_SLOTS = num('CLOUD_SLOTS', 64)
const WIDTHS = [160, 480, 960, 1920]
const SHAPE = [18, 21, 22, 25, 35, 31, 24, 15, 41, 21, 21, 34, 29, 24, 15, 25, 14, 30, 37, 26, 21, 25, 27, 25, 32, 33, 32, 30, 24, 19, 26, 22, 26, 25, 19, 32, 29, 23, 23, 23]

function seeded (seed: number): () => number {
  let s = seed
  return () => { s = (s * 48271) % 2147483647; return s / 2147483647 }
}

interface Arrival { atMs: number; frame: number }
/** Poisson arrivals whose rate follows SHAPE (one entry per second), mean RATE per second. */
function schedule (seed: number): Arrival[] {
  const r = seeded(seed)
  const mean = SHAPE.reduce((a, b) => a + b, 0) / SHAPE.length
  const out: Arrival[] = []
  for (let s = 0; s < SECONDS; s++) {
    const rate = RATE * (SHAPE[s % SHAPE.length] as number) / mean
    let t = s * 1000
    for (;;) {
      t += -Math.log(1 - r()) / rate * 1000
      if (t >= (s + 1) * 1000) break
      out.push({ atMs: t, frame: Math.floor(r() * WIDTHS.length) })
    }
  }
  return out
}

function event (data: Buffer, i: number): OutgoingEvent {
  return { attributes: { specversion: '1.0', id: `b${i}`, source: 'bench', type: 'frame', datacontenttype: 'image/jpeg' }, data }
}

async function runSchedule (target: Target, arrivals: Arrival[], frames: Buffer[]): Promise<number[]> {
  const t0 = performance.now()
  return await Promise.all(arrivals.map(async (a, i) => {
    const wait = a.atMs - (performance.now() - t0)
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
    const s = performance.now()
    const r = await target.dispatch('text-detect', event(frames[a.frame] as Buffer, i))
    if (r.status !== 'ok') throw new Error(`request ${i} failed: ${r.message}`)
    return performance.now() - s
  }))
}

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number }
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)

async function main (): Promise<void> {
  const loadBefore = loadavg().map((x) => x.toFixed(1)).join(' ')
  const src = readFileSync(`${repoRoot}/test/fixtures/images/text.png`)
  const frames = await Promise.all(WIDTHS.map((w) => sharp(src).resize({ width: w }).jpeg({ quality: 90 }).toBuffer()))
  const log = createLogger({ level: 'silent' })
  const cgroup = `/sys/fs/cgroup/cpu/iotless-place-bench-${process.pid}`
  const pool = new FunctionPool({ name: 'text-detect', modulePath: `${repoRoot}/dist/functions/text-detect/index.js`, config: { gpu: 'off' }, env: process.env, concurrency: 1, maxScale: 1, keepAliveMs: 600_000, initTimeoutMs: 120_000, timeoutMs: 120_000, clock: systemClock, log })
  let cloud: ChildProcess | undefined
  let wan: Awaited<ReturnType<typeof startWanProxy>> | undefined
  const edge = new LocalTarget([pool])
  let cloudTarget: KnativeTarget | undefined
  try {
    pool.prewarm(1)
    while (pool.warmInstances < 1) await new Promise((resolve) => setTimeout(resolve, 100))
    mkdirSync(cgroup)
    writeFileSync(`${cgroup}/cpu.cfs_period_us`, '100000')
    writeFileSync(`${cgroup}/cpu.cfs_quota_us`, String(Math.round(EDGE_CORES * 100_000)))
    for (const pid of pool.pids) writeFileSync(`${cgroup}/cgroup.procs`, String(pid))

    cloud = spawn(process.execPath, [`${repoRoot}/dist/cli/iotless.js`, 'fn', 'serve', 'text-detect', '--port', '0', '--host', '127.0.0.1', '--config', '{"gpu":"off"}'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: Array<Record<string, unknown>> = []
    createInterface({ input: cloud.stdout as NodeJS.ReadableStream }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch { /* not JSON */ } })
    while (!lines.some((l) => l.msg === 'iotless fn ready')) await new Promise((resolve) => setTimeout(resolve, 100))
    const port = lines.find((l) => l.msg === 'iotless fn listening')?.port as number
    wan = await startWanProxy({ rttMs: RTT_MS, bytesPerSecond: BW, upstreamHost: '127.0.0.1', upstreamPort: port })
    cloudTarget = new KnativeTarget({ url: `http://127.0.0.1:${wan.port}/`, headersTimeoutMs: 120_000, bodyTimeoutMs: 120_000 })

    const measured = schedule(2)
    const edgeOnly = await runSchedule(edge, measured, frames)
    const cloudOnly = await runSchedule(cloudTarget, measured, frames)
    const records: PlacementRecord[] = []
    const placement = new PlacementTarget({ label: 'bench', tiers: [{ name: 'edge', target: edge, slots: 1, perInstance: 1 }, { name: 'cloud', target: cloudTarget, slots: CLOUD_SLOTS }], mode: 'fastest', explore: 0.02, clock: systemClock, now: () => performance.now(), random: seeded(9), onDecision: (r) => records.push(r) })
    await runSchedule(placement, schedule(1).slice(0, 20), frames) // warm-up: learns on another schedule
    records.length = 0
    const placed = await runSchedule(placement, measured, frames)
    const firstTry = records.filter((r) => r.reason !== 'failover')
    const best = (i: number): string => (edgeOnly[i] as number) <= (cloudOnly[i] as number) ? 'edge' : 'cloud'
    const right = firstTry.filter((r) => r.tier === best(Number(r.eventId?.slice(1)))).length
    const oracle = measured.map((_, i) => Math.min(edgeOnly[i] as number, cloudOnly[i] as number))
    const oracleTotal = sum(oracle)
    const loadAfter = loadavg().map((x) => x.toFixed(1)).join(' ')
    const fmt = (xs: number[]): string => `${(sum(xs) / 1000).toFixed(1)} s | ${pct(xs, 0.5).toFixed(0)} | ${pct(xs, 0.99).toFixed(0)} | ${(sum(xs) / oracleTotal).toFixed(2)}x`
    const out = [
      '## Placement (issue 13)',
      '',
      `\`npm run bench:placement\` (EDGE_CORES=${EDGE_CORES} RTT_MS=${RTT_MS} BW_BYTES=${BW} SECONDS=${SECONDS} RATE=${RATE}). ${measured.length} requests, text-detect on text.png scaled to widths ${WIDTHS.join(', ')} (JPEG ${frames.map((f) => `${(f.length / 1000).toFixed(0)} kB`).join(', ')}); rate shape of the Azure 2019 http function c319389f6c39, one trace minute per second. Edge: local pool, 1 instance, cgroup CPU quota ${EDGE_CORES} core. Cloud: \`iotless fn serve\` behind the WAN emulator (RTT ${RTT_MS} ms, ${(BW / 1000).toFixed(0)} kB/s each way). No GPU was measured (none lent to this task). Load average before: ${loadBefore}; after: ${loadAfter} (2 cores, shared with other helpers).`,
      '',
      `Oracle: per request, the faster of its edge-only and cloud-only times (same schedule); the edge was faster for ${measured.filter((_, i) => best(i) === 'edge').length} of ${measured.length}.`,
      '',
      '| run | total | p50 ms | p99 ms | total vs oracle |',
      '| --- | --- | --- | --- | --- |',
      `| oracle (faster tier per request) | ${fmt(oracle)} |`,
      `| edge only | ${fmt(edgeOnly)} |`,
      `| cloud only | ${fmt(cloudOnly)} |`,
      `| placement (fastest, explore 0.02) | ${fmt(placed)} |`,
      '',
      `Placement accuracy (tier chosen = the oracle's faster one for that request): ${right}/${firstTry.length} = ${(100 * right / firstTry.length).toFixed(1)}% (target >= 97%). Decisions: ${['edge', 'cloud'].map((n) => `${n} ${firstTry.filter((r) => r.tier === n).length}`).join(', ')}; explored ${firstTry.filter((r) => r.reason === 'explore').length}.`,
      `Targets: accuracy >= 97%: ${right / firstTry.length >= 0.97 ? 'met' : 'NOT met'}; total <= 1.05x oracle: ${sum(placed) <= 1.05 * oracleTotal ? 'met' : 'NOT met'}; below both single tiers: ${sum(placed) < Math.min(sum(edgeOnly), sum(cloudOnly)) ? 'met' : 'NOT met'}.`,
      ''
    ].join('\n')
    console.log(out)
    if (process.env.WRITE_RESULTS !== '0') writeResultsSection(repoRoot, 'Placement (issue 13)', out)
  } finally {
    await cloudTarget?.close()
    await wan?.close()
    if (cloud !== undefined && cloud.exitCode === null) cloud.kill('SIGTERM')
    await pool.close()
    if (existsSync(cgroup)) {
      for (let k = 0; k < 50; k++) {
        try { rmdirSync(cgroup); break } catch { await new Promise((resolve) => setTimeout(resolve, 100)) }
      }
    }
  }
}

await main()
