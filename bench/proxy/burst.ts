/**
 * A burst of new connections arriving while the proxy is busy: how long until each one's first response.
 *
 *   npm run bench:proxy:burst      (BENCH_ROUNDS=5 BENCH_BURSTS=3 BENCH_BURST=200 BENCH_BUSY=50 by default)
 *
 * Each target gets keep-alive load from wrk (-t1, BENCH_BUSY connections) and, during it, BENCH_BURSTS
 * bursts 700 ms apart: BENCH_BURST connections opened in one tick, each sending one GET as soon as it
 * is connected; a connection's latency runs from the burst's start to its complete response (so it
 * counts the wait in the accept queue, which a client's own connect() does not see). Targets, in an order
 * rotated each round: nginx (1 worker, upstream keepalive 256), the iotless proxy as Node accepts
 * (IOTLESS_PROXY_MULTI_ACCEPT=false, one connection per event-loop turn), and the iotless proxy as built
 * (the native helper drains the accept queue each turn). The user container is nginx (1 worker) returning
 * 13 bytes. Prints one markdown table; the lines of each burst with BENCH_VERBOSE=1.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, iotlessProxyEnv, stopProcess as stop, waitPort, which } from './benchProcess.js'
import { nginxConf, nginxProxyServer } from './nginxConf.js'

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 5))
const BURSTS = Math.max(1, Number(process.env.BENCH_BURSTS ?? 3))
const BURST = Math.max(1, Number(process.env.BENCH_BURST ?? 200))
const BUSY = Math.max(1, Number(process.env.BENCH_BUSY ?? 50))
const VERBOSE = process.env.BENCH_VERBOSE === '1'
const PROXY_JS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'proxy.js')

interface Target { name: string; port: number; child: ChildProcess }

/** Opens `n` connections at once; resolves with each one's time from the start to its full response, in ms. */
function burst (port: number, n: number): Promise<number[]> {
  const start = performance.now()
  return Promise.all(Array.from({ length: n }, () => new Promise<number>((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true })
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString('latin1')
      // Both upstream answers are "hello, world\n" with a Content-Length: the response is whole at its end.
      if (text.endsWith('hello, world\n')) { resolve(performance.now() - start); s.destroy() }
    })
    s.on('error', reject)
    s.write('GET / HTTP/1.1\r\nHost: bench\r\n\r\n')
  })))
}

function pct (sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number
}

async function main (): Promise<void> {
  const nginx = which('nginx')
  const wrk = which('wrk')
  if (nginx === null || wrk === null) throw new Error('bench:proxy:burst needs nginx and wrk (Debian packages nginx-light, wrk)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-burst-'))
  fs.chmodSync(dir, 0o755)
  const procs: ChildProcess[] = []

  const upstreamPort = await freePort()
  const upDir = path.join(dir, 'upstream')
  fs.mkdirSync(upDir)
  fs.writeFileSync(path.join(upDir, 'nginx.conf'), nginxConf(upDir, `server { listen 127.0.0.1:${upstreamPort}; location / { return 200 "hello, world\n"; } }`))
  procs.push(spawn(nginx, ['-c', path.join(upDir, 'nginx.conf'), '-p', upDir], { stdio: 'ignore' }))
  await waitPort(upstreamPort)

  const targets: Target[] = []
  const ngPort = await freePort()
  const ngDir = path.join(dir, 'nginx-proxy')
  fs.mkdirSync(ngDir)
  fs.writeFileSync(path.join(ngDir, 'nginx.conf'), nginxConf(ngDir, nginxProxyServer(ngPort, upstreamPort)))
  const ng = spawn(nginx, ['-c', path.join(ngDir, 'nginx.conf'), '-p', ngDir], { stdio: 'ignore' })
  procs.push(ng)
  targets.push({ name: 'nginx 1 worker', port: ngPort, child: ng })
  for (const [name, multi] of [['iotless, one accept per turn (IOTLESS_PROXY_MULTI_ACCEPT=false)', 'false'], ['iotless, queue drained each turn (default)', 'true']] as const) {
    const port = await freePort()
    const env = iotlessProxyEnv({ port, upstreamPort, loggingLevel: 'info', extra: { IOTLESS_PROXY_MULTI_ACCEPT: multi } })
    const child = spawn(process.execPath, [PROXY_JS], { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    child.stderr?.on('data', (d: Buffer) => { log += d.toString() })
    procs.push(child)
    await waitPort(port)
    // The proxy says at start which way it accepts; a default build without the helper would measure nothing new.
    await new Promise((resolve) => setTimeout(resolve, 200))
    const drains = log.includes('accepting every queued connection')
    if (drains !== (multi === 'true')) throw new Error(`${name}: the proxy's start-up log does not say it accepts that way:\n${log}`)
    targets.push({ name, port, child })
  }

  const lat = new Map<string, number[]>(targets.map((t) => [t.name, []]))
  const busyRps = new Map<string, number[]>(targets.map((t) => [t.name, []]))
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = targets.map((_t, i) => targets[(i + round) % targets.length] as Target)
      for (const t of order) {
        const seconds = Math.ceil(0.5 + BURSTS * 0.7 + 0.5)
        const w = spawn(wrk, ['-t1', `-c${BUSY}`, `-d${seconds}s`, `http://127.0.0.1:${t.port}/`], { stdio: ['ignore', 'pipe', 'ignore'] })
        let out = ''
        w.stdout?.on('data', (d: Buffer) => { out += d.toString() })
        const exited = new Promise((resolve) => w.once('exit', resolve))
        await new Promise((resolve) => setTimeout(resolve, 500))
        for (let b = 0; b < BURSTS; b++) {
          const started = performance.now()
          const ms = await burst(t.port, BURST)
          const sorted = [...ms].sort((a, b) => a - b)
          lat.get(t.name)?.push(...ms)
          if (VERBOSE) process.stdout.write(`round ${round + 1} ${t.name} burst ${b + 1}: p50 ${pct(sorted, 0.5).toFixed(1)} p99 ${pct(sorted, 0.99).toFixed(1)} max ${(sorted.at(-1) as number).toFixed(1)} ms\n`)
          const left = 700 - (performance.now() - started)
          if (left > 0) await new Promise((resolve) => setTimeout(resolve, left))
        }
        await exited
        busyRps.get(t.name)?.push(Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN))
      }
    }
  } finally {
    for (const p of procs) await stop(p)
    fs.rmSync(dir, { recursive: true, force: true })
  }

  const rows = targets.map((t) => {
    const s = [...(lat.get(t.name) as number[])].sort((a, b) => a - b)
    const rps = [...(busyRps.get(t.name) as number[])].sort((a, b) => a - b)
    return { name: t.name, p50: pct(s, 0.5), p90: pct(s, 0.9), p99: pct(s, 0.99), max: s.at(-1) as number, n: s.length, rps: pct(rps, 0.5) }
  })
  const base = rows[0] as (typeof rows)[number]
  const lines = [
    `Run: \`npm run bench:proxy:burst\` (BENCH_ROUNDS=${ROUNDS}, BENCH_BURSTS=${BURSTS}, BENCH_BURST=${BURST}, BENCH_BUSY=${BUSY}), ${new Date().toISOString()}, ${os.cpus().length} CPUs, Node ${process.versions.node} (libuv ${process.versions.uv}).`,
    '',
    `| target | first responses | p50 ms | p90 ms | p99 ms | max ms | p99 / nginx | busy load req/s (median) |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.name} | ${r.n} | ${r.p50.toFixed(1)} | ${r.p90.toFixed(1)} | ${r.p99.toFixed(1)} | ${r.max.toFixed(1)} | ${(r.p99 / base.p99).toFixed(2)}x | ${r.rps.toFixed(0)} |`)
  ]
  process.stdout.write(lines.join('\n') + '\n')
}

main().catch((err: unknown) => { process.stderr.write(`${(err as Error).stack ?? String(err)}\n`); process.exit(1) })
