/**
 * Proxy benchmark: direct vs nginx vs haproxy vs `iotless proxy` (CONTAINER_CONCURRENCY=0 and finite),
 * all in one run, in front of the same upstream, driven by wrk at several connection counts.
 *
 *   npm run bench:proxy            (BENCH_SECONDS=5 BENCH_CONNECTIONS=10,50,200 by default)
 *
 * BENCH_NOTE, if set, is written verbatim after the machine line (say what else was running).
 * BENCH_ROUNDS (default 3): every target is measured once per round, in an order rotated each round, and
 * the table shows per-target medians, so a load spike from elsewhere on the machine hits all targets alike.
 * BENCH_QUEUE_PROXY: path to a Knative queue-proxy binary (take it out of Knative's release image); adds it
 * as a column. It binds its fixed ports 8022, 9090 and 9091, so run the benchmark where those are free
 * (e.g. `unshare -n sh -c 'ip link set lo up && npm run bench:proxy'`). Nothing of Knative's is in this repo.
 * BENCH_PROXY_BASE: path to another build's dist/cli/proxy.js (e.g. the main branch's); adds it as a row
 * "iotless proxy CC=0, base build", to compare two builds side by side in one run.
 * BENCH_UPSTREAM_HEAD=node: the upstream's responses also carry `Keep-Alive: timeout=5`, as every response of a
 * node:http user container does; a proxy must take that hop-by-hop line out (nginx and Go's ReverseProxy do), which
 * the default head (nginx's, without it) never asks of it.
 * BENCH_PIN=1: pins every proxy to the last CPU and wrk and the upstream to the others (taskset), so each
 * proxy has a core of its own; without it everything shares every core (see bench/RESULTS.md for why the
 * nginx ratios of the two set-ups differ).
 *
 * Every proxy gets one core's worth of workers (nginx worker_processes 1, haproxy nbthread 1, node is
 * single-threaded), so CPU per request compares like with like. The upstream is nginx returning a
 * fixed 13-byte body from one worker, so it is cheap and identical for every row. CPU seconds and peak
 * RSS are read from /proc for the proxy's processes only. Results go to stdout and to the `## Proxy`
 * section of bench/RESULTS.md (the rest of that file is left alone; BENCH_HEADING: another section, e.g. for a
 * decision run kept beside the default one; BENCH_WRITE_RESULTS=0: stdout only).
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { childPids, freePort, iotlessProxyEnv, stopProcess as stop, waitPort, which } from './benchProcess.js'
import { median as pairedMedian, signTestInterval } from '../pairedRatio.js'
import { writeResultsSection } from '../writeResultsSection.js'
import { nginxConf, nginxProxyServer } from './nginxConf.js'
import { runH2Bench } from './h2.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..', '..')
const PROXY_JS = path.join(repoRoot, 'dist', 'cli', 'proxy.js')
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONNECTIONS = (process.env.BENCH_CONNECTIONS ?? '10,50,200').split(',').map(Number)
const FINITE_CC = Number(process.env.BENCH_FINITE_CC ?? 64)
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
/** The RESULTS.md section written. */
const HEADING = process.env.BENCH_HEADING ?? 'Proxy'
const QUEUE_PROXY = process.env.BENCH_QUEUE_PROXY
const PROXY_BASE = process.env.BENCH_PROXY_BASE
const PIN = process.env.BENCH_PIN === '1'
const NODE_HEAD = process.env.BENCH_UPSTREAM_HEAD === 'node'
if (process.env.BENCH_UPSTREAM_HEAD !== undefined && process.env.BENCH_UPSTREAM_HEAD !== '' && !NODE_HEAD) {
  console.error(`BENCH_UPSTREAM_HEAD=${process.env.BENCH_UPSTREAM_HEAD}: only "node" is known`)
  process.exit(2)
}
const NCPU = os.cpus().length
/** taskset CPU lists: the proxies on the last CPU, load generator and upstream on the rest. */
const PROXY_CPUS = String(NCPU - 1)
const OTHER_CPUS = NCPU > 1 ? `0-${NCPU - 2}` : '0'
const CLK_TCK = 100


function ensureTools (): { wrk: string; nginx: string; haproxy: string } {
  const need = { wrk: 'wrk', nginx: 'nginx-light', haproxy: 'haproxy' } as const
  let missing = Object.entries(need).filter(([bin]) => which(bin) === null)
  if (missing.length > 0 && process.getuid?.() === 0 && which('apt-get') !== null) {
    console.error(`installing ${missing.map(([, pkg]) => pkg).join(' ')} with apt-get ...`)
    execFileSync('apt-get', ['update'], { stdio: 'inherit' })
    execFileSync('apt-get', ['install', '-y', ...missing.map(([, pkg]) => pkg)], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    missing = Object.entries(need).filter(([bin]) => which(bin) === null)
  }
  if (missing.length > 0) {
    console.error(`missing: ${missing.map(([bin, pkg]) => `${bin} (Debian package ${pkg})`).join(', ')}`)
    console.error(`install them with: apt-get update && apt-get install -y ${missing.map(([, pkg]) => pkg).join(' ')}`)
    process.exit(1)
  }
  if (!fs.existsSync(PROXY_JS)) { console.error(`missing ${PROXY_JS}: run npm run build first`); process.exit(1) }
  return { wrk: which('wrk') as string, nginx: which('nginx') as string, haproxy: which('haproxy') as string }
}




interface Proc { name: string; child: ChildProcess; port: number; pids: () => number[] }


/** User and system CPU seconds of the processes so far, from /proc/<pid>/stat (utime, stime). */
function cpuSeconds (pids: number[]): { user: number; sys: number } {
  let user = 0
  let sys = 0
  for (const pid of pids) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      user += Number(f[11])
      sys += Number(f[12])
    } catch { /* gone */ }
  }
  return { user: user / CLK_TCK, sys: sys / CLK_TCK }
}

function peakRssMiB (pids: number[]): number {
  let kb = 0
  for (const pid of pids) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m !== null) kb += Number(m[1])
    } catch { /* gone */ }
  }
  return kb / 1024
}

interface WrkResult { rps: number; requests: number; p50Ms: number; p99Ms: number; errors: number; non2xx: number }

function toMs (v: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(v.trim())
  if (m === null) return NaN
  const n = Number(m[1])
  return m[2] === 'us' ? n / 1000 : m[2] === 's' ? n * 1000 : n
}

/** Runs `cmd`, under taskset when BENCH_PIN=1 (`cpus` is where it may run). */
function spawnPinned (cmd: string, args: string[], cpus: string, opts: Parameters<typeof spawn>[2]): ChildProcess {
  if (!PIN) return spawn(cmd, args, opts)
  const taskset = which('taskset')
  if (taskset === null) throw new Error('BENCH_PIN=1 needs taskset (Debian package util-linux)')
  return spawn(taskset, ['-c', cpus, cmd, ...args], opts)
}

function runWrk (wrk: string, port: number, connections: number, seconds: number): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const w = spawnPinned(wrk, ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`], OTHER_CPUS, { stdio: ['ignore', 'pipe', 'ignore'] })
    if (w.stdout === null) { reject(new Error('wrk has no stdout')); return }
    let out = ''
    w.stdout.on('data', (d: Buffer) => { out += d.toString() })
    w.on('error', reject)
    w.on('exit', () => {
      const num = (re: RegExp): number => { const m = re.exec(out); return m === null ? 0 : Number(m[1]) }
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
      resolve({
        rps: num(/Requests\/sec:\s+([\d.]+)/),
        requests: num(/(\d+) requests in/),
        p50Ms: toMs(/\s50%\s+(\S+)/.exec(out)?.[1] ?? ''),
        p99Ms: toMs(/\s99%\s+(\S+)/.exec(out)?.[1] ?? ''),
        errors: sock === null ? 0 : sock.slice(1).reduce((a, b) => a + Number(b), 0),
        non2xx: num(/Non-2xx or 3xx responses: (\d+)/)
      })
    })
  })
}

async function main (): Promise<void> {
  const tools = ensureTools()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-'))
  fs.chmodSync(dir, 0o755)
  const procs: ChildProcess[] = []
  const cleanup = async (): Promise<void> => { for (const p of procs) await stop(p) }
  process.on('SIGINT', () => { void cleanup().then(() => process.exit(130)) })

  // The upstream, shared by every row.
  const upstreamPort = await freePort()
  const upDir = path.join(dir, 'upstream')
  fs.mkdirSync(upDir)
  fs.writeFileSync(path.join(upDir, 'nginx.conf'), nginxConf(upDir, `server { listen 127.0.0.1:${upstreamPort}; location / { ${NODE_HEAD ? 'add_header Keep-Alive "timeout=5" always; ' : ''}return 200 "hello, world\n"; } }`))
  const upstream = spawnPinned(tools.nginx, ['-c', path.join(upDir, 'nginx.conf'), '-p', upDir], OTHER_CPUS, { stdio: 'ignore' })
  procs.push(upstream)
  await waitPort(upstreamPort)

  const proxies: Proc[] = []
  proxies.push({ name: 'direct (no proxy)', child: upstream, port: upstreamPort, pids: () => [] })

  const ngPort = await freePort()
  const ngDir = path.join(dir, 'nginx-proxy')
  fs.mkdirSync(ngDir)
  fs.writeFileSync(path.join(ngDir, 'nginx.conf'), nginxConf(ngDir, nginxProxyServer(ngPort, upstreamPort)))
  const ng = spawnPinned(tools.nginx, ['-c', path.join(ngDir, 'nginx.conf'), '-p', ngDir], PROXY_CPUS, { stdio: 'ignore' })
  procs.push(ng)
  proxies.push({ name: 'nginx 1 worker', child: ng, port: ngPort, pids: () => childPids(ng.pid as number) })

  const haPort = await freePort()
  const haCfg = path.join(dir, 'haproxy.cfg')
  fs.writeFileSync(haCfg, `global
  nbthread 1
  maxconn 4000
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend fe
  bind 127.0.0.1:${haPort}
  default_backend be
backend be
  server user 127.0.0.1:${upstreamPort}
`)
  const ha = spawnPinned(tools.haproxy, ['-f', haCfg, '-db'], PROXY_CPUS, { stdio: 'ignore' })
  procs.push(ha)
  proxies.push({ name: 'haproxy 1 thread', child: ha, port: haPort, pids: () => childPids(ha.pid as number) })

  const builds: Array<{ js: string; cc: number; label: string }> = [
    { js: PROXY_JS, cc: 0, label: 'iotless proxy CC=0 (unlimited)' },
    { js: PROXY_JS, cc: FINITE_CC, label: `iotless proxy CC=${FINITE_CC}` }
  ]
  if (PROXY_BASE !== undefined) builds.splice(1, 0, { js: PROXY_BASE, cc: 0, label: 'iotless proxy CC=0, base build' })
  for (const { js, cc, label } of builds) {
    const port = await freePort()
    const env = iotlessProxyEnv({ port, upstreamPort, cc })
    const child = spawnPinned(process.execPath, [js], PROXY_CPUS, { env, stdio: ['ignore', 'ignore', 'inherit'] })
    procs.push(child)
    proxies.push({ name: label, child, port, pids: () => [child.pid as number] })
  }
  if (QUEUE_PROXY !== undefined) {
    // Knative's own sidecar, as the reconciler would start it (v1.12-era variables; newer ones are ignored by
    // older binaries and vice versa). GOMAXPROCS=1: one core, like every other row.
    const port = await freePort()
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '', GOMAXPROCS: '1',
      SERVING_NAMESPACE: 'bench', SERVING_SERVICE: 'bench', SERVING_CONFIGURATION: 'bench', SERVING_REVISION: 'bench-00001',
      SERVING_POD: 'bench-pod', SERVING_POD_IP: '127.0.0.1', SYSTEM_NAMESPACE: 'knative-serving', METRICS_DOMAIN: 'knative.dev/internal/serving',
      QUEUE_SERVING_PORT: String(port), QUEUE_SERVING_TLS_PORT: String(await freePort()), USER_PORT: String(upstreamPort),
      CONTAINER_CONCURRENCY: '0', REVISION_TIMEOUT_SECONDS: '300', SERVING_LOGGING_CONFIG: '', SERVING_LOGGING_LEVEL: 'error',
      SERVING_REQUEST_LOG_TEMPLATE: '', SERVING_ENABLE_REQUEST_LOG: 'false', SERVING_REQUEST_METRICS_BACKEND: '',
      TRACING_CONFIG_BACKEND: 'none', ENABLE_PROFILING: 'false', SERVING_ENABLE_PROBE_REQUEST_LOG: 'false',
      SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: upstreamPort, host: '127.0.0.1' }, successThreshold: 1 }),
      OBSERVABILITY_CONFIG: '{}'
    }
    // Its stderr is left out: it logs every request wrk cuts off at the end of a run ("context canceled").
    const child = spawnPinned(QUEUE_PROXY, [], PROXY_CPUS, { env, stdio: ['ignore', 'ignore', 'ignore'] })
    procs.push(child)
    child.once('exit', (code) => { if (code !== null && code !== 0) console.error(`queue-proxy exited ${code} (its fixed ports 8022, 9090, 9091 must be free: run under unshare -n)`) })
    proxies.push({ name: 'Knative queue-proxy CC=0', child, port, pids: () => childPids(child.pid as number) })
  }
  try {
    for (const p of proxies) await waitPort(p.port)
  } catch (err) {
    await cleanup()
    throw err
  }

  interface Row { name: string; c: number; r: WrkResult; cpuPer100k: number; userPer100k: number; rssMiB: number }
  const loadBefore = os.loadavg()
  const loads: number[] = []
  const samples: Array<Row & { round: number }> = []
  process.on('uncaughtException', (err) => { console.error(err); void cleanup().then(() => process.exit(1)) })
  for (const c of CONNECTIONS) {
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so no target always runs right after the same neighbour.
      const order = proxies.map((_, i) => proxies[(i + round) % proxies.length] as Proc)
      for (const p of order) {
        await runWrk(tools.wrk, p.port, c, 1) // warm-up (JIT, pools)
        const pids = p.pids()
        const cpu0 = cpuSeconds(pids)
        const r = await runWrk(tools.wrk, p.port, c, SECONDS)
        const cpu1 = cpuSeconds(pids)
        const per100k = (s: number): number => pids.length === 0 || r.requests === 0 ? NaN : s / r.requests * 100_000
        const row = {
          name: p.name,
          c,
          round,
          r,
          cpuPer100k: per100k(cpu1.user + cpu1.sys - cpu0.user - cpu0.sys),
          userPer100k: per100k(cpu1.user - cpu0.user),
          rssMiB: peakRssMiB(pids)
        }
        samples.push(row)
        loads.push(os.loadavg()[0] as number)
        console.error(`c=${c} round ${round + 1} ${p.name}: ${r.rps.toFixed(0)} req/s p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms cpu/100k ${row.cpuPer100k.toFixed(2)} s`)
      }
    }
  }
  const loadAfter = os.loadavg()
  const median = (xs: number[]): number => {
    const v = xs.filter(Number.isFinite).sort((a, b) => a - b)
    if (v.length === 0) return NaN
    const m = v.length >> 1
    return v.length % 2 === 1 ? v[m] as number : ((v[m - 1] as number) + (v[m] as number)) / 2
  }
  /** One row per (target, connections): the median of each figure over the rounds. */
  const rows: Row[] = []
  for (const c of CONNECTIONS) {
    for (const p of proxies) {
      const xs = samples.filter((x) => x.c === c && x.name === p.name)
      const m = (f: (x: Row) => number): number => median(xs.map(f))
      rows.push({
        name: p.name,
        c,
        r: { rps: m((x) => x.r.rps), requests: m((x) => x.r.requests), p50Ms: m((x) => x.r.p50Ms), p99Ms: m((x) => x.r.p99Ms), errors: xs.reduce((a, x) => a + x.r.errors, 0), non2xx: xs.reduce((a, x) => a + x.r.non2xx, 0) },
        cpuPer100k: m((x) => x.cpuPer100k),
        userPer100k: m((x) => x.userPer100k),
        rssMiB: Math.max(...xs.map((x) => x.rssMiB))
      })
    }
  }
  await cleanup()

  const fmt = (n: number, d = 2): string => Number.isFinite(n) ? n.toFixed(d) : '–'
  /**
   * Each target's CPU per request over a reference's (nginx, or the queue-proxy when it runs) in the same round, and
   * their median with its sign-test interval: steadier than the ratio of the two medians (an A/A run gave one build
   * 1.05x and 1.30x nginx that way).
   */
  const paired = (refPrefix: string, refLabel: string): string[] => {
    if (!proxies.some((q) => q.name.startsWith(refPrefix))) return []
    const out: string[] = [`Paired, round by round: CPU per request over ${refLabel}'s in the same round; median of the rounds' ratios and its`,
      'distribution-free 95% interval (sign test; none under 6 rounds).', '',
      `| conns | target | rounds | CPU/request vs ${refLabel}, median | 95% interval (coverage) | throughput vs ${refLabel}, median |`, '|---:|---|---:|---:|---|---:|']
    for (const c of CONNECTIONS) {
      const ref = samples.filter((x) => x.c === c && x.name.startsWith(refPrefix))
      for (const p of proxies.filter((q) => !q.name.startsWith(refPrefix) && !q.name.startsWith('direct') && (refPrefix === 'nginx' || q.name.startsWith('iotless')))) {
        const mine = samples.filter((x) => x.c === c && x.name === p.name)
        const cpu: number[] = []
        const tput: number[] = []
        for (const x of mine) {
          const n = ref.find((y) => y.round === x.round)
          if (n === undefined) continue
          cpu.push(x.cpuPer100k / n.cpuPer100k)
          tput.push(x.r.rps / n.r.rps)
        }
        const iv = signTestInterval(cpu.filter(Number.isFinite))
        out.push(`| ${c} | ${p.name} | ${cpu.length} | ${fmt(pairedMedian(cpu))} | ${iv === undefined ? '–' : `${fmt(iv.low)} to ${fmt(iv.high)} (${fmt(iv.coverage, 3)})`} | ${fmt(pairedMedian(tput))} |`)
      }
    }
    out.push('')
    return out
  }
  /** The issue's targets, checked against this run's figures. */
  const verdict = (all: Row[]): string[] => {
    const out: string[] = ['Targets (from this run):', '']
    const moderate = CONNECTIONS[Math.floor(CONNECTIONS.length / 2)] as number
    for (const x of all.filter((r) => r.name.startsWith('iotless'))) {
      const nginx = all.find((r) => r.c === x.c && r.name.startsWith('nginx')) as Row
      const direct = all.find((r) => r.c === x.c && r.name.startsWith('direct')) as Row
      const qp = all.find((r) => r.c === x.c && r.name.startsWith('Knative'))
      const vsQp = qp === undefined ? '' : `; CPU/request ${fmt(x.cpuPer100k / qp.cpuPer100k)}× the queue-proxy's (target ≤ 0.33: ${x.cpuPer100k / qp.cpuPer100k <= 1 / 3 ? 'met' : 'missed'}), throughput ${fmt(x.r.rps / qp.r.rps)}× it`
      const tput = x.r.rps / nginx.r.rps
      const cpu = x.cpuPer100k / nginx.cpuPer100k
      // Knative's published figure, 1 vCPU per 2,500 req/s, is 40 CPU-seconds per 100k requests.
      const vsKnative = 40 / x.cpuPer100k
      const addedP99 = x.r.p99Ms - direct.r.p99Ms
      out.push(`- c=${x.c}, ${x.name}: throughput ${fmt(tput)}× nginx (target ≥ 1.0: ${tput >= 1 ? 'met' : `missed by ${fmt((1 - tput) * 100, 0)}%`}); ` +
        `CPU/request ${fmt(cpu)}× nginx (target ≤ 1.0: ${cpu <= 1 ? 'met' : `missed by ${fmt((cpu - 1) * 100, 0)}%`}); ` +
        `${fmt(vsKnative, 1)}× less CPU than Knative's published 1 vCPU per 2,500 req/s (target ≥ 10×: ${vsKnative >= 10 ? 'met' : 'missed'})` + vsQp +
        (x.c === moderate ? `; added p99 ${fmt(addedP99)} ms at this moderate load (target < 1 ms: ${addedP99 < 1 ? 'met' : `missed by ${fmt(addedP99 - 1)} ms`})` : '') +
        `; CPU s per 100k: user ${fmt(x.userPer100k)} vs nginx ${fmt(nginx.userPer100k)}, system ${fmt(x.cpuPer100k - x.userPer100k)} vs nginx ${fmt(nginx.cpuPer100k - nginx.userPer100k)}`)
    }
    out.push('', 'What limits it: CPU per request splits into kernel time and user time. `strace -c` counts the same',
      'socket syscalls per request as nginx (one read and one write on each side, an epoll wait per ~20 requests;',
      'nginx also makes a getsockopt), and on loopback each write also runs the receiver\'s TCP input, so the',
      'kernel part is close to nginx\'s (see the user column: the rest is system time). The user part, a callback',
      'from libuv through C++ into V8 for every read, is where the proxy pays more than nginx\'s C. With a finite',
      'CONTAINER_CONCURRENCY and more connections than slots, requests also wait in the breaker\'s FIFO, which adds',
      'latency by design. wrk, the upstream and the proxy share the machine\'s cores, so throughput and p99 follow',
      'whatever else runs there.')
    return out
  }
  const lines: string[] = []
  lines.push('| conns | target | req/s | × nginx | p50 ms | p99 ms | added p50 / p99 ms | CPU s per 100k req | of which user | × nginx CPU | peak RSS MiB | errors / non-2xx |')
  lines.push('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
  for (const c of CONNECTIONS) {
    const direct = rows.find((x) => x.c === c && x.name.startsWith('direct')) as Row
    const nginx = rows.find((x) => x.c === c && x.name.startsWith('nginx')) as Row
    for (const x of rows.filter((y) => y.c === c)) {
      const isDirect = x === direct
      lines.push(`| ${c} | ${x.name} | ${fmt(x.r.rps, 0)} | ${fmt(x.r.rps / nginx.r.rps)} | ${fmt(x.r.p50Ms)} | ${fmt(x.r.p99Ms)} | ${isDirect ? '–' : `${fmt(x.r.p50Ms - direct.r.p50Ms)} / ${fmt(x.r.p99Ms - direct.r.p99Ms)}`} | ${fmt(x.cpuPer100k)} | ${fmt(x.userPer100k)} | ${isDirect ? '–' : fmt(x.cpuPer100k / nginx.cpuPer100k)} | ${isDirect ? '–' : fmt(x.rssMiB, 1)} | ${x.r.errors} / ${x.r.non2xx} |`)
    }
  }
  // nginx -v and wrk -v print to stderr (wrk also exits 1), so read both streams.
  const ver = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    return ((r.stdout ?? '') + (r.stderr ?? '')).split('\n').find((l) => l.trim() !== '')?.trim() ?? cmd
  }
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Linux ${os.release()}, Node ${process.version}; ` +
    `${ver(tools.nginx, ['-v']) || 'nginx'}, ${ver(tools.haproxy, ['-v'])}, ${ver(tools.wrk, ['-v'])}`
  const section = [
    `## ${HEADING}`,
    '',
    `Run: \`npm run bench:proxy\` (BENCH_SECONDS=${SECONDS}, BENCH_CONNECTIONS=${CONNECTIONS.join(',')}, finite CC=${FINITE_CC}), ${new Date().toISOString()}.`,
    '',
    `Machine: ${machine}. wrk, the upstream and the proxy share these cores, so absolute figures are low; the ratios are the point.`,
    `Load average (1 min) ${loadBefore[0]?.toFixed(2)} before the run, ${loadAfter[0]?.toFixed(2)} after, ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))} during it.` + (process.env.BENCH_NOTE === undefined ? '' : ` ${process.env.BENCH_NOTE}`),
    `Rounds: ${ROUNDS}, every target once per round in an order rotated each round; the table gives per-target medians. ` +
      (PIN ? `Pinned (BENCH_PIN=1): every proxy on CPU ${PROXY_CPUS}, wrk and the upstream on CPU ${OTHER_CPUS}.` : 'Not pinned: wrk, the upstream and the proxy share every core.'),
    '',
    `Setup: upstream = nginx (1 worker) returning a 13-byte body${NODE_HEAD ? ' and, as node:http does, a Keep-Alive: timeout=5 line (BENCH_UPSTREAM_HEAD=node)' : ''}; each proxy keeps keep-alive connections to it and runs on one core`,
    '(nginx worker_processes 1, haproxy nbthread 1, node single thread). wrk -t1 with a 1 s warm-up per row. CPU is user+system',
    'time of the proxy processes from /proc during the measured run (user time shown apart); peak RSS is VmHWM summed over them.',
    '',
    ...lines,
    '',
    ...paired('nginx', 'nginx'),
    ...paired('Knative', 'the queue-proxy'),
    ...verdict(rows),
    ''
  ].join('\n')
  console.log(section)
  if (process.env.BENCH_WRITE_RESULTS !== '0') {
    const resultsPath = writeResultsSection(repoRoot, HEADING, section)
    console.error(`wrote the ${HEADING} section of ${resultsPath}`)
  }
  // The HTTP/2 rows (bench/proxy/h2.ts), in the same run; BENCH_H2=0 leaves them out.
  if (process.env.BENCH_H2 !== '0') await runH2Bench()
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
