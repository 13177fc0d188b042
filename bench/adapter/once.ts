/**
 * Effectively once (issue 14), side by side in one run on the bench's own Mosquitto (max_queued_messages
 * 200000, max_inflight_messages 0, set_tcp_nodelay true unless BENCH_TCP_NODELAY=0): `iotless adapter` (its own process, restarted after each kill) -> a sink
 * target -> an HTTP server that counts each message with once() in an effect store (test/helpers/killRun.ts).
 *
 * 1. Throughput, no kills, no refusals, BENCH_ONCE_MESSAGES (20000) QoS 1 messages published at once: plain
 *    QoS 1 (no window) beside the dedup window in SQLite and in Redis (127.0.0.1:6379); messages/s from the
 *    first publish to the last counted, BENCH_ONCE_REPEAT (3) alternating rounds, medians. The ratio to plain
 *    QoS 1 is the window's cost. Then latency, publish ->
 *    counted p50/p99, at BENCH_ONCE_RATE (100) messages/s for 10 s, the same three.
 * 2. Kills: BENCH_ONCE_KILL_MESSAGES (20000) messages, 30% of requests refused (503), BENCH_ONCE_KILLS (10)
 *    kill -9s at seeded random moments (BENCH_ONCE_SEED), restarted each time; without the window and with it
 *    (SQLite): messages counted exactly once, missing, counted twice, and re-dispatches the effect log absorbed.
 *
 * 3. The disk spool (onceSpool.ts): an outage beyond the broker's queue without and with the spool, and the
 *    kill run above with the target down for 60 s and the spool on. `BENCH_ONCE_ONLY=spool` runs this part alone.
 *
 *   npm run bench:once
 *
 * Results go to stdout and to the `## Effectively once` section of bench/RESULTS.md.
 */
import { execSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { killRun, type KillRunOptions, type KillRunResult } from '../../test/helpers/killRun.js'
import { startOwnMosquitto } from '../../test/helpers/ownMosquitto.js'
import { writeResultsSection } from '../writeResultsSection.js'
import { spoolRuns } from './onceSpool.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..', '..')
const MESSAGES = Number(process.env.BENCH_ONCE_MESSAGES ?? 20_000)
const KILL_MESSAGES = Number(process.env.BENCH_ONCE_KILL_MESSAGES ?? 20_000)
const KILLS = Number(process.env.BENCH_ONCE_KILLS ?? 10)
const SEED = Number(process.env.BENCH_ONCE_SEED ?? 14)
const REDIS = process.env.BENCH_ONCE_REDIS ?? 'redis://127.0.0.1:6379'
const RATE = Number(process.env.BENCH_ONCE_RATE ?? 100)
const REPEAT = Number(process.env.BENCH_ONCE_REPEAT ?? 3)
const MAX_IN_FLIGHT = process.env.BENCH_ONCE_MAX_IN_FLIGHT === undefined ? undefined : Number(process.env.BENCH_ONCE_MAX_IN_FLIGHT)

interface Row { name: string; r: KillRunResult }

async function one (mosquittoUrl: string, name: string, o: Omit<KillRunOptions, 'mosquittoUrl' | 'dir' | 'prefix'>, dedup?: (dir: string, prefix: string) => string): Promise<Row> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-once-'))
  const prefix = `bench-once-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  try {
    const r = await killRun({ ...o, maxInFlight: MAX_IN_FLIGHT, mosquittoUrl, dir, prefix, dedupUrl: dedup?.(dir, prefix), timeoutMs: 900_000 })
    console.log(name, JSON.stringify(r))
    return { name, r }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const sqlite = (dir: string): string => `sqlite:${path.join(dir, 'dedup.db')}`
const redis = (_dir: string, prefix: string): string => `${REDIS}/?prefix=${prefix}:`

async function main (): Promise<void> {
  const loadBefore = os.loadavg()
  const mosquitto = await startOwnMosquitto({ max_queued_messages: 200_000, max_inflight_messages: 0, ...(process.env.BENCH_TCP_NODELAY === '0' ? {} : { set_tcp_nodelay: 'true' }) })
  if (process.env.BENCH_ONCE_ONLY === 'spool') {
    try { await spoolRuns(mosquitto.url, one, { killMessages: KILL_MESSAGES, kills: KILLS, seed: SEED, repoRoot }) } finally { await mosquitto.stop() }
    return
  }
  const thr: Row[] = []
  const lat: Row[] = []
  const kills: Row[] = []
  try {
    const plain = { messages: MESSAGES, kills: 0, seed: SEED, refuse: 0 }
    await one(mosquitto.url, 'warm-up (not reported)', { ...plain, messages: 2000 })
    // Alternating rounds, the median of each path: the machine is shared, one run of each says little.
    const rounds: Row[][] = [[], [], []]
    for (let k = 0; k < REPEAT; k++) {
      rounds[0]?.push(await one(mosquitto.url, 'plain QoS 1 (no window)', plain))
      rounds[1]?.push(await one(mosquitto.url, 'dedup window, SQLite', plain, sqlite))
      rounds[2]?.push(await one(mosquitto.url, 'dedup window, Redis', plain, redis))
    }
    for (const rs of rounds) {
      const sorted = [...rs].sort((a, b) => a.r.elapsedMs - b.r.elapsedMs)
      const mid = sorted[Math.floor(sorted.length / 2)] as Row
      thr.push({ name: `${mid.name} (median of ${rs.length}: ${rs.map((x) => ((x.r.exact + x.r.overCounted) / (x.r.elapsedMs / 1000)).toFixed(0)).join(', ')} msg/s)`, r: mid.r })
    }
    const slow = { messages: RATE * 10, kills: 0, seed: SEED, refuse: 0, rate: RATE }
    lat.push(await one(mosquitto.url, 'plain QoS 1 (no window)', slow))
    lat.push(await one(mosquitto.url, 'dedup window, SQLite', slow, sqlite))
    lat.push(await one(mosquitto.url, 'dedup window, Redis', slow, redis))
    const k = { messages: KILL_MESSAGES, kills: KILLS, seed: SEED, refuse: 0.3, killAfterMs: [1000, 4000] as [number, number] }
    kills.push(await one(mosquitto.url, 'no window', k))
    kills.push(await one(mosquitto.url, 'dedup window, SQLite', k, sqlite))
    await spoolRuns(mosquitto.url, one, { killMessages: KILL_MESSAGES, kills: KILLS, seed: SEED, repoRoot })
  } finally {
    await mosquitto.stop()
  }
  const loadAfter = os.loadavg()
  const rate = (r: KillRunResult): number => (r.exact + r.overCounted) / (r.elapsedMs / 1000)
  const base = thr[0]?.r
  const lines = [
    '## Effectively once',
    '',
    `\`npm run bench:once\` (${new Date().toISOString().slice(0, 10)}; ${os.cpus().length} cores, load ${loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(1)).join(' ')} after; ` +
      `${execSync('mosquitto -h | head -1').toString().trim()}). \`iotless adapter\` -> sink target -> an HTTP server counting with once(); bench/adapter/once.ts.`,
    '',
    `Throughput, ${MESSAGES} QoS 1 messages, no kills, no refusals (all published at once, the first publish to the last counted):`,
    '',
    '| path | messages/s | vs plain QoS 1 |',
    '| --- | ---: | ---: |',
    ...thr.map(({ name, r }) => `| ${name} | ${rate(r).toFixed(0)} | ${base === undefined ? '' : (rate(r) / rate(base) * 100).toFixed(0) + '%'} |`),
    '',
    `Latency, publish -> counted, at ${RATE} messages/s for 10 s (no kills, no refusals):`,
    '',
    '| path | p50 ms | added p50 ms | p99 ms |',
    '| --- | ---: | ---: | ---: |',
    ...lat.map(({ name, r }) => `| ${name} | ${r.p50Ms} | ${r.p50Ms - (lat[0]?.r.p50Ms ?? NaN)} | ${r.p99Ms} |`),
    '',
    `Kills: ${KILL_MESSAGES} QoS 1 messages, 30% of requests refused (503), ${KILLS} kill -9s of \`iotless adapter\` at seeded random moments (seed ${SEED}), restarted each time:`,
    '',
    '| run | kills done | counted once | missing | counted twice | dead letters | re-dispatches absorbed by once() | refused | messages/s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...kills.map(({ name, r }) => `| ${name} | ${r.killsDone} | ${r.exact} | ${r.missing} | ${r.overCounted} | ${r.deadLetters} | ${r.duplicateDispatches} | ${r.refused} | ${rate(r).toFixed(0)} |`),
    ''
  ]
  const text = lines.join('\n')
  console.log(text)
  writeResultsSection(repoRoot, 'Effectively once', text)
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
