/**
 * `node dist/bench/placement/dispatchLive.js`: the local pool's dispatch strategies (functions.<name>.dispatch)
 * with real instance processes, side by side in one run: busiest-first, JSQ, random and threshold, at several
 * offered loads, on the same Poisson arrivals. The function (workFunction.ts) computes CPU_MS then waits
 * WAIT_MS; the pool: CONCURRENCY slots per instance, up to MAX_SCALE instances, idle ones reaped after
 * KEEP_ALIVE_MS; PREWARM instances are started before each cell, as after a burst. This process and its instances run in one cgroup held to BOX_CORES cores (cpu.shares high,
 * so it has them on this shared machine, as a dedicated box would). Reports p50/p99 latency (send to answer)
 * and instance-seconds (ready or starting instances, sampled every 20 ms) for each strategy and load.
 */
import { mkdirSync, rmdirSync, writeFileSync, existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { systemClock } from '../../core/clock.js'
import { createLogger } from '../../core/log.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { busiestFirst, joinShortestQueue, randomDispatch, ThresholdDispatch, type DispatchStrategy } from '../../adapters/runtime/dispatch/thresholdDispatch.js'
import { seeded } from './workload.js'
import { cfsPeriodUs, writeCpuQuota } from './cpuQuota.js'
import { writeResultsSection } from '../writeResultsSection.js'

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))
const num = (name: string, d: number): number => { const v = process.env[name]; return v === undefined ? d : Number(v) }
const CPU_MS = num('CPU_MS', 2)
const WAIT_MS = num('WAIT_MS', 50)
const CONCURRENCY = num('CONCURRENCY', 4)
const MAX_SCALE = num('MAX_SCALE', 4)
const KEEP_ALIVE_MS = num('KEEP_ALIVE_MS', 2000)
const RUN_S = num('RUN_S', 15)
const BOX_CORES = num('BOX_CORES', 1)
/** The box's CFS period, us (cpuQuota.ts; the figures in bench/RESULTS.md before 2026-12-01 19:00 were taken at 100000). */
const PERIOD_US = cfsPeriodUs(process.env.BENCH_CFS_PERIOD_US)
/** Instances started before each cell (as after a burst), so the strategies differ from the start: packing lets the spare ones be reaped. */
const PREWARM = num('PREWARM', 4)
const LOADS = (process.env.LOADS ?? '20,60,150').split(',').map(Number)
const STRATEGIES: Array<[string, (r: () => number) => DispatchStrategy]> = [
  ['busiest', () => busiestFirst],
  ['jsq', () => joinShortestQueue],
  ['random', (r) => randomDispatch(r)],
  ['threshold (paper: random in the set)', (r) => new ThresholdDispatch({ random: r, choose: 'random' })],
  ['threshold (most recent in the set)', (r) => new ThresholdDispatch({ random: r, choose: 'recent' })]
]
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number }

interface Row { load: number; strategy: string; p50: number; p99: number; instanceS: number; spawned: number; n: number }

async function one ([strategy, make]: [string, (r: () => number) => DispatchStrategy], ratePerS: number, seed: number): Promise<Row> {
  const log = createLogger({ level: 'silent' })
  const pool = new FunctionPool({ name: 'work', modulePath: `${repoRoot}/dist/bench/placement/workFunction.js`, config: { cpuMs: CPU_MS, waitMs: WAIT_MS }, env: process.env, concurrency: CONCURRENCY, maxScale: MAX_SCALE, keepAliveMs: KEEP_ALIVE_MS, initTimeoutMs: 60_000, timeoutMs: 60_000, clock: systemClock, log, dispatch: make(seeded(seed + 7)) })
  try {
    pool.prewarm(PREWARM)
    while (pool.warmInstances < Math.min(PREWARM, MAX_SCALE)) await sleep(50)
    const r = seeded(seed)
    const arrivals: number[] = []
    for (let t = -Math.log(1 - r()) / ratePerS * 1000; t < RUN_S * 1000; t += -Math.log(1 - r()) / ratePerS * 1000) arrivals.push(t)
    let instanceMs = 0
    const t0 = performance.now()
    let last = t0
    const sampler = setInterval(() => { const now = performance.now(); instanceMs += (pool.warmInstances + pool.startingInstances) * (now - last); last = now }, 20)
    const spawned0 = pool.spawnCount
    const lat = await Promise.all(arrivals.map(async (at, i) => {
      const wait = at - (performance.now() - t0)
      if (wait > 0) await sleep(wait)
      const s = performance.now()
      await pool.invoke({ headers: { 'ce-specversion': '1.0', 'ce-id': `d${i}`, 'ce-source': 'bench', 'ce-type': 'work', 'content-type': 'application/json' }, body: Buffer.from('{}') })
      return performance.now() - s
    }))
    clearInterval(sampler)
    instanceMs += (pool.warmInstances + pool.startingInstances) * (performance.now() - last)
    return { load: ratePerS, strategy, p50: pct(lat, 0.5), p99: pct(lat, 0.99), instanceS: instanceMs / 1000, spawned: pool.spawnCount - spawned0, n: lat.length }
  } finally {
    await pool.close()
  }
}

async function main (): Promise<void> {
  const loadBefore = loadavg().map((x) => x.toFixed(1)).join(' ')
  const root = '/sys/fs/cgroup/cpu'
  const box = `${root}/iotless-dispatch-bench-${process.pid}`
  const rows: Row[] = []
  mkdirSync(box)
  try {
    writeCpuQuota(box, BOX_CORES, PERIOD_US)
    writeFileSync(`${box}/cpu.shares`, '16384')
    // The instances this process spawns start in its cgroup.
    writeFileSync(`${box}/cgroup.procs`, String(process.pid))
    for (const [k, load] of LOADS.entries()) {
      for (const strategy of STRATEGIES) rows.push(await one(strategy, load, 11 + k))
    }
  } finally {
    writeFileSync(`${root}/cgroup.procs`, String(process.pid))
    for (let k = 0; k < 50 && existsSync(box); k++) { try { rmdirSync(box) } catch { await sleep(100) } }
  }
  const loadAfter = loadavg().map((x) => x.toFixed(1)).join(' ')
  const lines = [
    '## Placement: pool dispatch strategies with real processes (issue 13)',
    '',
    `\`npm run bench:placement\` (its dispatchLive step: \`node dist/bench/placement/dispatchLive.js\`, RUN_S=${RUN_S} LOADS=${LOADS.join(',')}). Real pool: up to ${MAX_SCALE} instances x ${CONCURRENCY} slots, work ${CPU_MS} ms CPU + ${WAIT_MS} ms wait (workFunction.ts), keep-alive ${KEEP_ALIVE_MS} ms, ${PREWARM} instances prewarmed per cell (as after a burst), ${RUN_S} s of Poisson arrivals per cell, the same arrivals for every strategy at a load; the bench and its instances in one cgroup of ${BOX_CORES} core (CFS period ${PERIOD_US / 1000} ms, cpu.shares 16384). Load average before: ${loadBefore}; after: ${loadAfter} (2 cores, shared with other helpers).`,
    '',
    '| offered load | strategy | requests | p50 ms | p99 ms | instance-s | started | p50 / busiest | p99 / busiest | instance-s / busiest |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const load of LOADS) {
    const cell = rows.filter((x) => x.load === load)
    const base = cell[0] as Row
    for (const x of cell) lines.push(`| ${load}/s | ${x.strategy} | ${x.n} | ${x.p50.toFixed(0)} | ${x.p99.toFixed(0)} | ${x.instanceS.toFixed(1)} | ${x.spawned} | ${(x.p50 / base.p50).toFixed(2)} | ${(x.p99 / base.p99).toFixed(2)} | ${(x.instanceS / base.instanceS).toFixed(2)} |`)
  }
  const out = lines.join('\n') + '\n'
  console.log(out)
  if (process.env.WRITE_RESULTS !== '0') writeResultsSection(repoRoot, 'Placement: pool dispatch strategies with real processes (issue 13)', out)
}

await main()
