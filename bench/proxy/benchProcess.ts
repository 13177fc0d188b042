import type { ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'

/** The bench's process helpers, shared by the HTTP/1.1 (run.ts) and HTTP/2 (h2.ts) runs. */

/** The absolute path of a command on the PATH (or /usr/sbin, /sbin, where Debian puts nginx), or null. */
export function which (cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd)
    if (fs.existsSync(p)) return p
  }
  return null
}

/** A port on 127.0.0.1 that was free a moment ago, for a child that must be told its port. */
export async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  const p = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return p
}

/** Resolves once something accepts connections on the port; throws after `timeoutMs`. */
export async function waitPort (port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => { s.destroy(); resolve(true) })
      s.on('error', () => resolve(false))
    })
    if (ok) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`port ${port} never opened`)
}

/** The process and its direct children (nginx's workers), from /proc/<pid>/stat's ppid field. */
export function childPids (pid: number): number[] {
  const out = [pid]
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d))
    } catch { /* gone */ }
  }
  return out
}

/** Kills a process and its children (nginx's workers would outlive a SIGKILLed master). */
export async function stopProcess (p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.pid === undefined) return
  const children = childPids(p.pid).slice(1)
  p.kill('SIGKILL')
  await new Promise((resolve) => p.once('exit', resolve))
  for (const pid of children) {
    try { process.kill(pid, 'SIGKILL') } catch { /* already gone */ }
  }
}

/** The environment the reconciler would give `iotless proxy` in a bench: every extra port free, loopback only. */
export function iotlessProxyEnv (opts: { port: number, upstreamPort: number, cc?: number, loggingLevel?: string, extra?: Record<string, string> }): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    SERVING_NAMESPACE: 'bench', SERVING_CONFIGURATION: 'bench', SERVING_REVISION: 'bench-00001', SERVING_POD: 'bench-pod',
    SERVING_POD_IP: '127.0.0.1', QUEUE_SERVING_PORT: String(opts.port), QUEUE_SERVING_TLS_PORT: '0',
    CONTAINER_CONCURRENCY: String(opts.cc ?? 0), REVISION_TIMEOUT_SECONDS: '300', SERVING_LOGGING_CONFIG: '', SERVING_LOGGING_LEVEL: opts.loggingLevel ?? 'error',
    USER_PORT: String(opts.upstreamPort), IOTLESS_PROXY_ADMIN_PORT: '0', IOTLESS_PROXY_STATS_PORT: '0', IOTLESS_PROXY_USER_METRICS_PORT: '0',
    IOTLESS_PROXY_BIND_HOST: '127.0.0.1',
    ...opts.extra
  }
}
