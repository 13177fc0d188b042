/**
 * Two builds of iotless side by side in one run, on the effectively-once path of bench:once (killRun:
 * `iotless adapter` -> sink target -> an HTTP server counting with once(); no kills, no refusals), one round of
 * each path in turn, BENCH_REPEAT (5) rounds, medians. For a change's before and after: build the earlier
 * commit elsewhere and point BENCH_BASE_DIST at its dist/.
 *
 *   git archive <commit> | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/ && (cd /tmp/base && npx tsc -p tsconfig.json)
 *   BENCH_BASE_DIST=/tmp/base/dist BENCH_PATHS=this:plain,base:sqlite,this:sqlite node dist/bench/adapter/compareBuilds.js
 *
 * BENCH_TCP_NODELAY=1 gives the broker set_tcp_nodelay true. Paths: `this` or `base`, then `plain` (no window), `sqlite` or `redis` (adapter.dedup.url). Prints a table;
 * writes nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { killRun, type KillRunOptions, type KillRunResult } from '../../test/helpers/killRun.js'
import { startOwnMosquitto } from '../../test/helpers/ownMosquitto.js'

const BASE = process.env.BENCH_BASE_DIST
const PATHS = (process.env.BENCH_PATHS ?? 'this:plain,base:sqlite,this:sqlite').split(',')
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 10_000)
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5)
const REDIS = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379'

async function main (): Promise<void> {
  const runners: Record<string, (o: KillRunOptions) => Promise<KillRunResult>> = { this: killRun }
  if (BASE !== undefined) runners.base = (await import(pathToFileURL(path.join(BASE, 'test', 'helpers', 'killRun.js')).href) as { killRun: typeof killRun }).killRun
  // BENCH_TCP_NODELAY=1: the broker sets TCP_NODELAY, as docs/adapter.md (broker settings) asks.
  const mosquitto = await startOwnMosquitto({ max_queued_messages: 200_000, max_inflight_messages: 0, ...(process.env.BENCH_TCP_NODELAY === '1' ? { set_tcp_nodelay: 'true' } : {}) })
  const load0 = os.loadavg()
  const rates = new Map<string, number[]>()
  try {
    for (let r = 0; r < REPEAT; r++) {
      for (const spec of PATHS) {
        const [build, kind] = spec.split(':') as [string, string]
        const run = runners[build]
        if (run === undefined) throw new Error(`${spec}: no build "${build}" (set BENCH_BASE_DIST for base)`)
        const dir = mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-builds-'))
        const prefix = `bench-builds-${process.pid}-${r}-${spec.replace(':', '-')}`
        const dedupUrl = kind === 'plain' ? undefined : kind === 'sqlite' ? `sqlite:${path.join(dir, 'dedup.db')}` : `${REDIS}/?prefix=${prefix}:`
        try {
          const res = await run({ mosquittoUrl: mosquitto.url, dir, prefix, messages: MESSAGES, kills: 0, seed: 1, refuse: 0, dedupUrl, timeoutMs: 600_000 })
          if (res.missing !== 0 || res.overCounted !== 0) throw new Error(`${spec}: ${res.missing} missing, ${res.overCounted} counted twice`)
          const rate = (res.exact / res.elapsedMs) * 1000
          rates.set(spec, [...(rates.get(spec) ?? []), rate])
          console.log(`round ${r + 1} ${spec}: ${rate.toFixed(0)} msg/s`)
        } finally {
          rmSync(dir, { recursive: true, force: true })
        }
      }
    }
  } finally {
    await mosquitto.stop()
  }
  const load1 = os.loadavg()
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
  const first = median(rates.get(PATHS[0] as string) ?? [])
  console.log(`\n${MESSAGES} QoS 1 messages per round, ${REPEAT} rounds, broker set_tcp_nodelay ${process.env.BENCH_TCP_NODELAY === '1'}; load ${load0.map((x) => x.toFixed(1)).join(' ')} before, ${load1.map((x) => x.toFixed(1)).join(' ')} after\n`)
  console.log(`| path | msg/s (median) | each round | vs ${PATHS[0]} |`)
  console.log('| --- | ---: | --- | ---: |')
  for (const spec of PATHS) {
    const xs = rates.get(spec) ?? []
    console.log(`| ${spec} | ${median(xs).toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(', ')} | ${((median(xs) / first) * 100).toFixed(0)}% |`)
  }
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
