/**
 * HTTP/2 proxy benchmark: unary gRPC-sized requests over h2c (prior knowledge) through nginx (grpc_pass),
 * `iotless proxy`, and Knative's own queue-proxy when BENCH_QUEUE_PROXY names its binary, beside a
 * direct-to-upstream baseline, in one run. Driven by h2load (Debian's nghttp2-client).
 *
 *   npm run bench:proxy          (runs this after the HTTP/1.1 rows; BENCH_H2=0 skips it)
 *   node dist/bench/proxy/h2.js  (this part alone)
 *
 * BENCH_SECONDS (default 5), BENCH_H2_CONNECTIONS (default 10,50), BENCH_H2_STREAMS (concurrent streams per
 * connection, default 10), BENCH_ROUNDS (default 3: every target once per round, in an order rotated each round;
 * the table gives per-target medians, so load from elsewhere on the machine hits every target alike), BENCH_QUEUE_PROXY (path to a queue-proxy binary you took out of Knative's release
 * image; nothing of Knative's is in this repository), BENCH_NOTE (written after the machine line).
 *
 * The upstream is nginx with an h2c listener answering every request with 200 and a 13-byte body, so it is
 * cheap and the same for every row. Each proxy runs on one core (nginx worker_processes 1, node single
 * thread, the queue-proxy with GOMAXPROCS=1). Requests are POSTs of a 100-byte body with gRPC's
 * content-type and `te: trailers`, the size of a small unary gRPC call. CPU is user+system time of the
 * proxy's processes from /proc during the measured run. Results go to the `## Proxy HTTP/2` section of
 * bench/RESULTS.md.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { childPids, freePort, stopProcess as stop, waitPort, which } from './benchProcess.js'
import { writeResultsSection } from '../writeResultsSection.js'
import { nginxConf } from './nginxConf.js'

/** nginx's HTTP/2 stream limit, at the proxy's (250, as Go's http2 server). */
const NGINX_H2_LIMIT = 'http2_max_concurrent_streams 250;'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..', '..')
const PROXY_JS = path.join(repoRoot, 'dist', 'cli', 'proxy.js')
const CLK_TCK = 100


function ensureTools (): { h2load: string; nginx: string } {
  const need = { h2load: 'nghttp2-client', nginx: 'nginx-light' } as const
  let missing = Object.entries(need).filter(([bin]) => which(bin) === null)
  if (missing.length > 0 && process.getuid?.() === 0 && which('apt-get') !== null) {
    console.error(`installing ${missing.map(([, pkg]) => pkg).join(' ')} with apt-get ...`)
    execFileSync('apt-get', ['install', '-y', ...missing.map(([, pkg]) => pkg)], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    missing = Object.entries(need).filter(([bin]) => which(bin) === null)
  }
  if (missing.length > 0) {
    console.error(`missing: ${missing.map(([bin, pkg]) => `${bin} (Debian package ${pkg})`).join(', ')}; apt-get install -y ${missing.map(([, pkg]) => pkg).join(' ')}`)
    process.exit(1)
  }
  if (!fs.existsSync(PROXY_JS)) { console.error(`missing ${PROXY_JS}: run npm run build first`); process.exit(1) }
  return { h2load: which('h2load') as string, nginx: which('nginx') as string }
}




function cpuSeconds (pids: number[]): number {
  let ticks = 0
  for (const pid of pids) {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
      ticks += Number(f[11]) + Number(f[12])
    } catch { /* gone */ }
  }
  return ticks / CLK_TCK
}


interface H2loadResult { rps: number; done: number; ok: number; failed: number; meanMs: number }

function runH2load (h2load: string, port: number, data: string, c: number, m: number, seconds: number, warmup: number): Promise<H2loadResult> {
  return new Promise((resolve, reject) => {
    const args = ['-t1', `-c${c}`, `-m${m}`, '-D', String(seconds), '--warm-up-time', String(warmup), '-d', data,
      '-H', 'content-type: application/grpc', '-H', 'te: trailers', `http://127.0.0.1:${port}/test.Echo/Say`]
    const w = spawn(h2load, args)
    let out = ''
    w.stdout.on('data', (d: Buffer) => { out += d.toString() })
    w.on('error', reject)
    w.on('exit', () => {
      const reqs = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed/.exec(out)
      const mean = /time for request:\s+\S+\s+\S+\s+(\S+)/.exec(out)?.[1] ?? ''
      const ms = /^([\d.]+)(us|ms|s)$/.exec(mean)
      resolve({
        rps: Number(/finished in [^,]+, ([\d.]+) req\/s/.exec(out)?.[1] ?? 0),
        done: Number(reqs?.[3] ?? 0),
        ok: Number(reqs?.[4] ?? 0),
        failed: Number(reqs?.[5] ?? 0),
        meanMs: ms === null ? NaN : Number(ms[1]) * (ms[2] === 'us' ? 0.001 : ms[2] === 's' ? 1000 : 1)
      })
    })
  })
}

interface Target { name: string; port: number; pids: () => number[] }

export async function runH2Bench (): Promise<void> {
  const tools = ensureTools()
  const seconds = Number(process.env.BENCH_SECONDS ?? 5)
  const connections = (process.env.BENCH_H2_CONNECTIONS ?? '10,50').split(',').map(Number)
  const streams = Number(process.env.BENCH_H2_STREAMS ?? 10)
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-h2-'))
  fs.chmodSync(dir, 0o755)
  const data = path.join(dir, 'unary.bin')
  // A gRPC message frame: 1 flag byte, 4 length bytes, 95 bytes of message.
  const msg = Buffer.alloc(100, 0x61)
  msg[0] = 0
  msg.writeUInt32BE(95, 1)
  fs.writeFileSync(data, msg)
  const procs: ChildProcess[] = []
  const cleanup = async (): Promise<void> => { for (const p of procs) await stop(p) }

  const upPort = await freePort()
  const upDir = path.join(dir, 'upstream')
  fs.mkdirSync(upDir)
  fs.writeFileSync(path.join(upDir, 'nginx.conf'), nginxConf(upDir, `server { listen 127.0.0.1:${upPort} http2; location / { return 200 "hello, world\n"; } }`, NGINX_H2_LIMIT))
  const upstream = spawn(tools.nginx, ['-c', path.join(upDir, 'nginx.conf'), '-p', upDir], { stdio: 'ignore' })
  procs.push(upstream)
  const targets: Target[] = [{ name: 'direct (no proxy)', port: upPort, pids: () => [] }]

  const ngPort = await freePort()
  const ngDir = path.join(dir, 'nginx-proxy')
  fs.mkdirSync(ngDir)
  fs.writeFileSync(path.join(ngDir, 'nginx.conf'), nginxConf(ngDir, `
  upstream user { server 127.0.0.1:${upPort}; keepalive 256; keepalive_requests 1000000; }
  server { listen 127.0.0.1:${ngPort} http2; location / { grpc_pass grpc://user; } }`, NGINX_H2_LIMIT))
  const ng = spawn(tools.nginx, ['-c', path.join(ngDir, 'nginx.conf'), '-p', ngDir], { stdio: 'ignore' })
  procs.push(ng)
  targets.push({ name: 'nginx 1 worker (grpc_pass)', port: ngPort, pids: () => childPids(ng.pid as number) })

  const knativeEnv = (port: number): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    SERVING_NAMESPACE: 'bench', SERVING_CONFIGURATION: 'bench', SERVING_REVISION: 'bench-00001', SERVING_POD: 'bench-pod',
    SERVING_POD_IP: '127.0.0.1', QUEUE_SERVING_PORT: String(port), QUEUE_SERVING_TLS_PORT: String(port + 1),
    CONTAINER_CONCURRENCY: '0', REVISION_TIMEOUT_SECONDS: '300', SERVING_LOGGING_CONFIG: '', SERVING_LOGGING_LEVEL: 'error',
    USER_PORT: String(upPort), SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: upPort, host: '127.0.0.1' } })
  })
  // Both HTTP/2 engines (IOTLESS_PROXY_H2_ENGINE), each in its own proxy process.
  for (const engine of ['relay', 'node'] as const) {
    const ourPort = await freePort()
    const ours = spawn(process.execPath, [PROXY_JS], {
      env: { ...knativeEnv(ourPort), IOTLESS_PROXY_ADMIN_PORT: '0', IOTLESS_PROXY_STATS_PORT: '0', IOTLESS_PROXY_USER_METRICS_PORT: '0', IOTLESS_PROXY_BIND_HOST: '127.0.0.1', IOTLESS_PROXY_CERT_DIR: dir, IOTLESS_PROXY_H2_ENGINE: engine },
      stdio: ['ignore', 'ignore', 'inherit']
    })
    procs.push(ours)
    targets.push({ name: `iotless proxy CC=0, ${engine} engine`, port: ourPort, pids: () => [ours.pid as number] })
  }

  const qp = process.env.BENCH_QUEUE_PROXY
  if (qp !== undefined && qp !== '') {
    const qpPort = await freePort()
    // The queue-proxy's admin (8022) and metrics (9090, 9091) ports are fixed; they must be free here.
    const q = spawn(qp, [], { env: { ...knativeEnv(qpPort), GOMAXPROCS: '1', SYSTEM_NAMESPACE: 'knative-serving', SERVING_SERVICE: 'bench' }, stdio: ['ignore', 'ignore', 'inherit'] })
    procs.push(q)
    targets.push({ name: 'Knative queue-proxy (GOMAXPROCS=1)', port: qpPort, pids: () => [q.pid as number] })
  }
  try {
    for (const t of targets) await waitPort(t.port)
  } catch (err) {
    await cleanup()
    throw err
  }

  interface Row { name: string; c: number; r: H2loadResult; cpuS: number }
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
  const samples: Row[] = []
  const loadBefore = os.loadavg()
  const loads: number[] = []
  for (const c of connections) {
    for (let round = 0; round < rounds; round++) {
      const order = targets.map((_, i) => targets[(i + round) % targets.length] as Target)
      for (const t of order) {
        const pids = t.pids()
        const cpu0 = cpuSeconds(pids)
        const r = await runH2load(tools.h2load, t.port, data, c, streams, seconds, 1)
        const cpuS = cpuSeconds(pids) - cpu0
        samples.push({ name: t.name, c, r, cpuS })
        loads.push(os.loadavg()[0] as number)
        console.error(`h2 c=${c} m=${streams} round ${round + 1} ${t.name}: ${r.rps.toFixed(0)} req/s, ${r.failed} failed, cpu ${cpuS.toFixed(2)} s`)
      }
    }
  }
  const loadAfter = os.loadavg()
  await cleanup()
  const median = (xs: number[]): number => {
    const v = xs.filter(Number.isFinite).sort((a, b) => a - b)
    if (v.length === 0) return NaN
    const m = v.length >> 1
    return v.length % 2 === 1 ? v[m] as number : ((v[m - 1] as number) + (v[m] as number)) / 2
  }
  // Per target: the round with the median CPU per request stands for it (its req/s, latency and CPU together).
  const perReqOf = (x: Row): number => x.cpuS / (x.r.done * (seconds + 1) / seconds)
  const rows: Row[] = []
  for (const c of connections) {
    for (const t of targets) {
      const xs = samples.filter((x) => x.c === c && x.name === t.name)
      const key = t.pids().length === 0 ? (x: Row) => -x.r.rps : perReqOf
      const m = median(xs.map(key))
      rows.push(xs.find((x) => key(x) === m) ?? xs.sort((a, b) => key(a) - key(b))[xs.length >> 1] as Row)
    }
  }

  const fmt = (n: number, d = 2): string => Number.isFinite(n) ? n.toFixed(d) : '–'
  // The warm-up second is included in the CPU reading (h2load counts only the measured requests), so CPU
  // per request is CPU over (measured requests x (seconds + 1) / seconds): the warm-up ran at the same rate.
  const perReq = (x: Row): number => x.cpuS / (x.r.done * (seconds + 1) / seconds)
  const lines = [
    '| conns × streams | target | req/s | × nginx | mean ms | CPU s per 100k req | req per CPU s | × nginx req/CPU s | × queue-proxy req/CPU s | failed |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|'
  ]
  const verdict: string[] = []
  for (const c of connections) {
    const nginx = rows.find((x) => x.c === c && x.name.startsWith('nginx')) as Row
    const qpRow = rows.find((x) => x.c === c && x.name.startsWith('Knative'))
    for (const x of rows.filter((y) => y.c === c)) {
      const direct = x.name.startsWith('direct')
      const rpc = direct ? NaN : 1 / perReq(x)
      lines.push(`| ${c} × ${streams} | ${x.name} | ${fmt(x.r.rps, 0)} | ${fmt(x.r.rps / nginx.r.rps)} | ${fmt(x.r.meanMs)} | ${direct ? '–' : fmt(perReq(x) * 100_000)} | ${direct ? '–' : fmt(rpc, 0)} | ${direct ? '–' : fmt(rpc * perReq(nginx))} | ${direct || qpRow === undefined ? '–' : fmt(rpc * perReq(qpRow))} | ${x.r.failed} |`)
    }
    for (const me of rows.filter((x) => x.c === c && x.name.startsWith('iotless'))) {
      const who = me.name.replace('iotless proxy CC=0, ', 'iotless, ')
      verdict.push(qpRow === undefined
        ? `- ${c} × ${streams}, ${who}: no queue-proxy column (BENCH_QUEUE_PROXY unset), so the ≥ 2× queue-proxy req per CPU second target is not checked in this run; it serves ${fmt(perReq(nginx) / perReq(me))}× nginx's requests per CPU second.`
        : `- ${c} × ${streams}, ${who}: ${fmt(perReq(qpRow) / perReq(me))}× the queue-proxy's requests per CPU second (target ≥ 2: ${perReq(qpRow) / perReq(me) >= 2 ? 'met' : 'missed'}), ${fmt(perReq(nginx) / perReq(me))}× nginx's.`)
    }
  }
  const ver = (cmd: string, args: string[]): string => {
    const r = spawnSync(cmd, args, { encoding: 'utf8' })
    return ((r.stdout ?? '') + (r.stderr ?? '')).split('\n').find((l) => l.trim() !== '')?.trim() ?? cmd
  }
  const section = [
    '## Proxy HTTP/2',
    '',
    `Run: \`npm run bench:proxy\` (this part alone: \`node dist/bench/proxy/h2.js\`; BENCH_SECONDS=${seconds}, BENCH_H2_CONNECTIONS=${connections.join(',')}, BENCH_H2_STREAMS=${streams}${qp === undefined ? '' : ', BENCH_QUEUE_PROXY set'}), ${new Date().toISOString()}.`,
    '',
    `Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Linux ${os.release()}, Node ${process.version}; ${ver(tools.nginx, ['-v'])}, ${ver(tools.h2load, ['--version'])}.`,
    `Load average (1 min) ${loadBefore[0]?.toFixed(2)} before, ${loadAfter[0]?.toFixed(2)} after, ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} during it. ` +
      `Rounds: ${rounds}, every target once per round in an order rotated each round; each row is the target's round with the median CPU per request (direct: median req/s).` + (process.env.BENCH_NOTE === undefined ? '' : ` ${process.env.BENCH_NOTE}`),
    '',
    'Setup: h2load -t1 over h2c (prior knowledge), POSTs of a 100-byte gRPC message frame (content-type application/grpc,',
    'te: trailers), 1 s warm-up; the upstream is nginx (1 worker, h2c) answering 200 with 13 bytes. nginx proxies with',
    'grpc_pass (h2c upstream, keep-alive); iotless proxies each stream as an h2c stream (CONTAINER_CONCURRENCY=0). CPU is',
    'user+system of the proxy processes, warm-up included and spread over the requests at the measured rate.',
    '',
    ...lines,
    '',
    ...verdict,
    '',
    'Reading the rows: the relay engine (IOTLESS_PROXY_H2_ENGINE=relay, proxy/h2/relay/) frames HTTP/2 itself on both',
    'hops (its own parser, HPACK and flow control over node:net); the node engine goes through node:http2 on both sides,',
    'where a CPU profile (bench/RESULTS.md "Where iotless\'s HTTP/2 CPU goes") put 31% of busy time in garbage collection,',
    '22% in Node\'s streams and 19% in node:http2\'s JavaScript. The ≥ 2× queue-proxy target needs BENCH_QUEUE_PROXY;',
    'without it the target is unmeasured. nginx\'s few failed requests are grpc_pass answering 502 for some streams of an',
    'upstream that does not read their bodies; iotless retries a refused upstream stream once.',
    ''
  ].join('\n')
  console.log(section)
  const resultsPath = writeResultsSection(repoRoot, 'Proxy HTTP/2', section)
  console.error(`wrote the Proxy HTTP/2 section of ${resultsPath}`)
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  runH2Bench().catch((err: unknown) => { console.error(err); process.exit(1) })
}
