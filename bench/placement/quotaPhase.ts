/**
 * How faithfully a cgroup CPU quota emulates a slower CPU, per CFS period (cpuQuota.ts).
 * `node dist/bench/placement/quotaPhase.js` (root: cgroup v1). For each period in PERIODS (us), one child process in
 * a cgroup of CORES (default 0.25, the placement bench's edge) runs fixed CPU jobs of JOBS_MS of CPU time, each
 * after a random pause (a random phase in the period, as requests arrive). A uniformly slower CPU would take
 * 1 / CORES the CPU time for every job (4x at 0.25); the spread of wall / CPU across jobs of one size is what the
 * emulation adds, which nothing a placement sees can predict.
 */
import { fork } from 'node:child_process'
import { mkdirSync, rmdirSync, writeFileSync, existsSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { writeCpuQuota } from './cpuQuota.js'
import { seeded } from './workload.js'

const list = (name: string, d: string): number[] => (process.env[name] ?? d).split(',').map(Number)
const CORES = Number(process.env.CORES ?? 0.25)
const PERIODS = list('PERIODS', '100000,10000,5000')
const JOBS_MS = list('JOBS_MS', '5,20,50')
const N = Number(process.env.N ?? 30)

const cpuMs = (): number => { const u = process.cpuUsage(); return (u.user + u.system) / 1000 }
/** Spins until this process has used `ms` of CPU time. */
const spin = (ms: number): void => { const end = cpuMs() + ms; let x = 0; while (cpuMs() < end) x++; if (x < 0) console.log(x) }
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function child (): Promise<void> {
  await new Promise<void>((resolve) => process.once('message', () => resolve()))
  const random = seeded(5)
  const out: Record<string, number[]> = {}
  for (const ms of JOBS_MS) {
    const ratios: number[] = []
    for (let i = 0; i < N; i++) {
      await sleep(random() * 100)
      const c0 = cpuMs()
      const t0 = performance.now()
      spin(ms)
      ratios.push((performance.now() - t0) / (cpuMs() - c0))
    }
    out[ms] = ratios
  }
  process.send?.(out)
}

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] as number }

async function main (): Promise<void> {
  const before = loadavg().map((x) => x.toFixed(1)).join(' ')
  const rows: string[] = []
  for (const period of PERIODS) {
    const group = `/sys/fs/cgroup/cpu/iotless-quota-phase-${process.pid}`
    mkdirSync(group)
    try {
      writeCpuQuota(group, CORES, period)
      writeFileSync(`${group}/cpu.shares`, '16384')
      const c = fork(fileURLToPath(import.meta.url), ['child'], { stdio: 'inherit' })
      writeFileSync(`${group}/cgroup.procs`, String(c.pid))
      const got = new Promise<Record<string, number[]>>((resolve) => c.once('message', (m) => resolve(m as Record<string, number[]>)))
      c.send('go')
      const res = await got
      c.kill()
      for (const ms of JOBS_MS) {
        const r = res[ms] as number[]
        rows.push(`| ${period / 1000} ms | ${ms} ms | ${r.length} | ${pct(r, 0.1).toFixed(1)} | ${pct(r, 0.5).toFixed(1)} | ${pct(r, 0.9).toFixed(1)} | ${Math.max(...r).toFixed(1)} | ${(pct(r, 0.9) / pct(r, 0.1)).toFixed(2)} |`)
      }
    } finally {
      for (let k = 0; k < 50 && existsSync(group); k++) { try { rmdirSync(group) } catch { await sleep(100) } }
    }
  }
  console.log([
    `\`node dist/bench/placement/quotaPhase.js\` (CORES=${CORES} PERIODS=${PERIODS.join(',')} JOBS_MS=${JOBS_MS.join(',')} N=${N}): wall / CPU time of a fixed CPU job started at a random phase, one process in a cgroup of ${CORES} core (cpu.shares 16384); a uniformly slower CPU: ${(1 / CORES).toFixed(1)} for every job. Load average before: ${before}; after: ${loadavg().map((x) => x.toFixed(1)).join(' ')}.`,
    '',
    '| CFS period | CPU per job | jobs | wall/CPU p10 | p50 | p90 | max | p90 / p10 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows
  ].join('\n'))
}

if (process.argv[2] === 'child') await child()
else await main()
