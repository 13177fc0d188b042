import { mkdirSync, readdirSync, rmdirSync, writeFileSync, accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import type { Logger } from '../../../core/log.js'

/** Sets the CPU an instance process may use, as a share of its full allowance (1 = full, 0.5 = half). */
export interface CpuQuota {
  /** A new instance: put it in its own group at `share`. */
  add (pid: number, share: number): void
  set (pid: number, share: number): void
  remove (pid: number): void
  /** Removes what is left of the groups (after the instances exited). */
  close? (): void
}

/** cgroup v1 CFS bandwidth: 100000 us, the kernel's default period. */
const PERIOD_US = 100_000

/**
 * Deflation through the cgroup v1 `cpu` controller (Documentation/scheduler/sched-bwc.rst): each instance gets
 * `<root>/<group>/<pid>/`, cpu.cfs_quota_us = share x cpusPerInstance x cpu.cfs_period_us. LaSS deflates Docker
 * containers' CPU the same way (docker update --cpus). A write that fails (the process already gone) is ignored:
 * the instance is leaving anyway.
 */
export class CgroupV1CpuQuota implements CpuQuota {
  readonly dir: string
  readonly #cpus: number
  /** Writes done, for the re-provisioning measurement and the metrics. */
  writes = 0

  constructor (dir: string, cpusPerInstance: number) {
    this.dir = dir
    this.#cpus = cpusPerInstance
    mkdirSync(dir, { recursive: true })
  }

  add (pid: number, share: number): void {
    const g = join(this.dir, String(pid))
    try {
      mkdirSync(g, { recursive: true })
      writeFileSync(join(g, 'cpu.cfs_period_us'), String(PERIOD_US))
      this.set(pid, share)
      writeFileSync(join(g, 'cgroup.procs'), String(pid))
    } catch { /* the process exited first */ }
  }

  set (pid: number, share: number): void {
    try {
      writeFileSync(join(this.dir, String(pid), 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round(share * this.#cpus * PERIOD_US))))
      this.writes++
    } catch { /* gone */ }
  }

  remove (pid: number): void {
    // A group can be removed once its process has exited (rmdir of an empty cgroup).
    try { rmdirSync(join(this.dir, String(pid))) } catch { /* still busy or gone */ }
  }

  close (): void {
    try {
      for (const d of readdirSync(this.dir, { withFileTypes: true })) if (d.isDirectory()) this.remove(Number(d.name))
      rmdirSync(this.dir)
    } catch { /* a group still holds a process */ }
  }
}

/**
 * The deflation backend the box can have: cgroup v1 `cpu` at `mount` (/sys/fs/cgroup/cpu) when it is writable,
 * otherwise undefined and, once, a log line saying reclaim will only terminate. Never throws: a missing
 * controller must not stop start-up.
 */
export function detectCpuQuota (opts: { mount: string; group: string; cpusPerInstance: number; log: Logger }): CpuQuota | undefined {
  try {
    accessSync(join(opts.mount, 'cpu.cfs_quota_us'), constants.W_OK)
    return new CgroupV1CpuQuota(join(opts.mount, opts.group), opts.cpusPerInstance)
  } catch (err) {
    opts.log.warn({ mount: opts.mount, err: (err as Error).message }, 'cgroup v1 cpu controller not writable: deflation is off, the box reclaims capacity by stopping instances only')
    return undefined
  }
}
