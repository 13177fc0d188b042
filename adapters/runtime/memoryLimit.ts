import { mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** How an instance's memory bound is enforced by the OS, beside V8's --max-old-space-size. */
export type MemoryGuardKind = 'cgroup' | 'rss-watchdog'

export interface MemoryGuard {
  readonly kind: MemoryGuardKind
  /** True once the instance went over its bound (the kernel OOM-killed it in its cgroup, or the watchdog killed it). */
  exceeded (): boolean
  /** Stops watching and removes the cgroup; call once the process has exited. */
  release (): void
}

const CGROUP_V1_MEMORY = '/sys/fs/cgroup/memory'

let cachedRoot: string | null | undefined

/**
 * The folder under which instance cgroups are made: this process's own cgroup v1 memory controller path
 * (from /proc/self/cgroup), plus iotless-<pid>, when the controller is mounted and writable here; null otherwise
 * (no cgroup v1 memory controller, not root, a read-only mount). Probed once; folders left by a dead iotless
 * process under the same parent are removed on the way.
 */
export function memoryCgroupRoot (): string | null {
  if (cachedRoot !== undefined) return cachedRoot
  cachedRoot = null
  try {
    const line = readFileSync('/proc/self/cgroup', 'utf8').split('\n').find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))
    if (line === undefined) return null
    const parent = join(CGROUP_V1_MEMORY, line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1))
    removeStale(parent)
    const root = join(parent, `iotless-${process.pid}`)
    mkdirSync(root, { recursive: true })
    cachedRoot = root
    process.once('exit', () => { try { rmdirSync(root) } catch { /* instances still in it, or gone */ } })
  } catch {
    cachedRoot = null
  }
  return cachedRoot
}

function removeStale (parent: string): void {
  for (const name of readdirSync(parent)) {
    const m = /^iotless-(\d+)$/.exec(name)
    if (m === null || isAlive(Number(m[1]))) continue
    const dir = join(parent, name)
    try {
      for (const sub of readdirSync(dir, { withFileTypes: true })) if (sub.isDirectory()) rmdirSync(join(dir, sub.name))
      rmdirSync(dir)
    } catch { /* a task still in it: leave it */ }
  }
}

function isAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** The kernel's count of OOM kills in a v1 memory cgroup (memory.oom_control, `oom_kill N`, Linux >= 4.13). */
function oomKills (dir: string): number {
  try {
    const m = /^oom_kill (\d+)$/m.exec(readFileSync(join(dir, 'memory.oom_control'), 'utf8'))
    if (m !== null) return Number(m[1])
    // Older kernels: the limit was hit (failcnt) and the process died; counted as a kill by the caller's signal check.
    return Number(readFileSync(join(dir, 'memory.failcnt'), 'utf8').trim()) > 0 ? 1 : 0
  } catch {
    return 0
  }
}

/**
 * Puts process `pid` in its own memory cgroup limited to `limitMb` (memory + swap where the kernel accounts
 * swap), so the kernel reclaims and then OOM-kills it there, and nothing else on the box, at the bound.
 */
function cgroupGuard (root: string, name: string, pid: number, limitMb: number): MemoryGuard {
  const dir = join(root, name)
  mkdirSync(dir)
  const bytes = String(limitMb * 1024 * 1024)
  writeFileSync(join(dir, 'memory.limit_in_bytes'), bytes)
  try { writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), bytes) } catch { /* no swap accounting: memory alone */ }
  // The pages the child touched before it was moved stay charged where they were unless moved with it.
  try { writeFileSync(join(dir, 'memory.move_charge_at_immigrate'), '3') } catch { /* kernel without it: those few MB stay outside */ }
  writeFileSync(join(dir, 'cgroup.procs'), String(pid))
  let exceeded = false
  return {
    kind: 'cgroup',
    exceeded: () => { exceeded ||= oomKills(dir) > 0; return exceeded },
    release: () => {
      exceeded ||= oomKills(dir) > 0
      try { rmdirSync(dir) } catch { /* already gone */ }
    }
  }
}

/** Resident set size of `pid` in MB, from /proc/PID/statm (pages x page size; 4 KiB on the machines we run on). */
export function rssMb (pid: number): number | undefined {
  try {
    const pages = Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1])
    return pages * 4096 / (1024 * 1024)
  } catch {
    return undefined
  }
}

/**
 * Where no cgroup can be made: polls the RSS every `pollMs` and SIGKILLs the process over `limitMb`. Coarser than
 * the kernel (a fast allocation can overshoot by what it allocates in one period), but a real OS-level bound.
 */
function watchdogGuard (pid: number, limitMb: number, pollMs: number, kill: () => void): MemoryGuard {
  let exceeded = false
  const timer = setInterval(() => {
    const rss = rssMb(pid)
    if (rss !== undefined && rss > limitMb) { exceeded = true; clearInterval(timer); kill() }
  }, pollMs)
  timer.unref()
  return { kind: 'rss-watchdog', exceeded: () => exceeded, release: () => { clearInterval(timer) } }
}

export interface GuardOptions {
  /** Instance cgroups go here; default memoryCgroupRoot(); null forces the RSS watchdog. */
  cgroupRoot?: string | null
  /** RSS watchdog period: 100 ms. */
  pollMs?: number
}

/** Bounds the memory of a just-spawned process: a cgroup where this host allows one, else the RSS watchdog. */
export function guardMemory (name: string, pid: number, limitMb: number, kill: () => void, opts: GuardOptions = {}): MemoryGuard {
  const root = opts.cgroupRoot === undefined ? memoryCgroupRoot() : opts.cgroupRoot
  if (root !== null) {
    try {
      return cgroupGuard(root, name, pid, limitMb)
    } catch { /* this cgroup could not be made (limits of a nested hierarchy): watch instead */ }
  }
  return watchdogGuard(pid, limitMb, opts.pollMs ?? 100, kill)
}
