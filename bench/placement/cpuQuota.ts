/**
 * The cgroup v1 CPU quota the placement benches hold a tier to (run.ts, dispatchLive.ts, quotaPhase.ts).
 *
 * A quota of `cores` is `cores x period` of CPU time per CFS period. The period is a bench setting,
 * `BENCH_CFS_PERIOD_US`, default 5000 (5 ms), not the kernel's 100 ms: with 100 ms a 0.25-core box runs at full
 * speed for 25 ms and then stands still for 75 ms, so a job of 20 ms of CPU takes 20 ms or about 95 ms depending
 * on where in the period it starts, which no real small box does (a slower CPU is slower all the time) and which
 * nothing a placement sees can predict. quotaPhase.ts measures a fixed CPU job started at random phases
 * (bench/RESULTS.md): at 0.25 core a 20 ms job took 1.0-4.5x its CPU time (p10-p90) under 100 ms, 3.3-4.0x under 10 ms,
 * 3.6-4.2x under 5 ms; a 5 ms job 1.0-3.7x under 10 ms, 2.8-4.3x under 5 ms (a uniformly slower CPU: 4.0x).
 * 5 ms is the shortest period whose quota stays at or above the kernel's 1 ms minimum down to 0.2 core; the
 * kernel allows periods of 1 ms to 1 s.
 */
import { writeFileSync } from 'node:fs'

export const DEFAULT_CFS_PERIOD_US = 5000

/** The period from the environment value (undefined or '': the default); throws naming the setting when out of range. */
export function cfsPeriodUs (value: string | undefined): number {
  if (value === undefined || value === '') return DEFAULT_CFS_PERIOD_US
  const v = Number(value)
  if (!Number.isInteger(v) || v < 1000 || v > 1_000_000) throw new RangeError(`BENCH_CFS_PERIOD_US must be an integer from 1000 to 1000000 (us), got ${JSON.stringify(value)}`)
  return v
}

/** The quota (us per period) for `cores`; throws when under the kernel's 1 ms minimum. */
export function cfsQuotaUs (cores: number, periodUs: number): number {
  const q = Math.round(cores * periodUs)
  if (!(q >= 1000)) throw new RangeError(`a quota of ${cores} core over a ${periodUs} us period is ${q} us, under the kernel's 1000 us minimum: raise BENCH_CFS_PERIOD_US`)
  return q
}

/** Writes a cgroup's period and, for cores > 0, its quota (cores <= 0: no cap). */
export function writeCpuQuota (cgroupPath: string, cores: number, periodUs: number): void {
  writeFileSync(`${cgroupPath}/cpu.cfs_period_us`, String(periodUs))
  if (cores > 0) writeFileSync(`${cgroupPath}/cpu.cfs_quota_us`, String(cfsQuotaUs(cores, periodUs)))
}
