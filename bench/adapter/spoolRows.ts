/**
 * The disk spool's rows of `npm run bench:adapter` (issue 14): `iotless adapter` with adapter.spool on (fsync
 * on, then off) beside plain QoS 1, the same sink, the same broker, measured by the same closed loop and fixed
 * rate as the other rows (run.ts passes its `measure`). Kept in a file of its own so other rows merge freely.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

export interface SpoolVariant { name: string; spool?: { fsync: boolean } | undefined }

export const SPOOL_VARIANTS: readonly SpoolVariant[] = [
  { name: 'plain QoS 1 (no spool)' },
  { name: 'spool, fsync on (default)', spool: { fsync: true } },
  { name: 'spool, fsync off', spool: { fsync: false } }
]

/** `iotless adapter` for one variant, as run.ts starts its own (knative target to the sink, maxInFlight 1024). */
export function startSpoolAdapter (cli: string, broker: string, sinkUrl: string, topic: string, id: string, v: SpoolVariant): { child: ChildProcess; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-spool-'))
  const file = path.join(dir, 'iotless.json')
  fs.writeFileSync(file, JSON.stringify({
    broker: { url: broker, clientId: `bench-spool-${id}`, sessionExpirySeconds: 0 },
    metrics: { enabled: false },
    log: { level: 'warn' },
    adapter: { maxInFlight: 1024, ...(v.spool === undefined ? {} : { spool: { dir: path.join(dir, 'spool'), fsync: v.spool.fsync } }) },
    targets: { sink: { kind: 'knative', url: sinkUrl, connections: 32 } },
    routes: [{ topic, function: 'sink', target: 'sink', qos: 1, maxInFlight: 1024 }]
  }))
  return { child: spawn(process.execPath, [cli, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] }), dir }
}

export interface SpoolRow { name: string; rate: number; rates: number[]; lost: number; dup: number; p50: number; p99: number; cpuPer1k?: number | undefined }

/** The section's table: throughput and added p50 against plain QoS 1 (the first row) of the same run. */
export function spoolTable (rows: readonly SpoolRow[], rate: number): string {
  const f = (x: number, d = 2): string => Number.isFinite(x) ? x.toFixed(d) : 'n/a'
  const base = rows[0]
  return [
    `| path | msg/s at saturation (median) | each round | vs plain QoS 1 | lost | duplicates | p50 ms @${rate}/s | added p50 ms | p99 ms @${rate}/s | adapter CPU s / 1k msgs |`,
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.name} | ${f(r.rate, 0)} | ${r.rates.map((x) => f(x, 0)).join(', ')} | ${base === undefined ? '' : f(r.rate / base.rate * 100, 0) + '%'} | ${r.lost} | ${r.dup} | ${f(r.p50)} | ${r === base || base === undefined ? '-' : f(r.p50 - base.p50)} | ${f(r.p99)} | ${r.cpuPer1k === undefined ? '-' : f(r.cpuPer1k, 3)} |`)
  ].join('\n')
}

/**
 * The spool alone, no broker: BENCH_SPOOL_COMMIT_MESSAGES (20000) messages of 100 bytes appended in bursts of
 * `burst` (what maxInFlight lets the ingress have at once), each burst awaited; fsync on and off, alternating,
 * 3 rounds each. Group commits per second, messages per second, and each commit's time (write + fdatasync).
 */
export async function spoolCommitCost (burst = 64): Promise<string> {
  const { DiskSpool } = await import('../../adapters/spool/diskSpool.js')
  const { systemClock } = await import('../../core/clock.js')
  const { createLogger } = await import('../../core/log.js')
  const n = Number(process.env.BENCH_SPOOL_COMMIT_MESSAGES ?? 20_000)
  const log = createLogger({ level: 'silent' })
  const results = new Map<boolean, Array<{ rate: number; commitP50: number; commitP99: number }>>()
  for (let round = 0; round < 3; round++) {
    for (const fsync of [true, false]) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-spoolcommit-'))
      const spool = await DiskSpool.open({ dir, maxBytes: 1 << 30, fsync, memoryBytes: 1 << 26, clock: systemClock, log })
      const payload = Buffer.alloc(100, 7)
      const commits: number[] = []
      const t0 = performance.now()
      for (let i = 0; i < n; i += burst) {
        const s = performance.now()
        await Promise.all(Array.from({ length: Math.min(burst, n - i) }, (_, k) => spool.append({ topic: `bench/${i + k}`, payload, qos: 1, messageId: ((i + k) % 65535) + 1, properties: undefined })))
        commits.push(performance.now() - s)
      }
      const seconds = (performance.now() - t0) / 1000
      await spool.close()
      fs.rmSync(dir, { recursive: true, force: true })
      commits.sort((a, b) => a - b)
      results.set(fsync, [...(results.get(fsync) ?? []), { rate: n / seconds, commitP50: commits[Math.floor(commits.length / 2)] ?? NaN, commitP99: commits[Math.floor(commits.length * 0.99)] ?? NaN }])
    }
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
  const lines = [
    `The spool alone (no broker, no target): ${n} messages of 100 bytes appended in bursts of ${burst}, each burst one group commit, awaited; 3 alternating rounds, medians (each round's msg/s in brackets):`,
    '',
    '| fsync | msg/s | commit p50 ms | commit p99 ms |',
    '| --- | ---: | ---: | ---: |',
    ...[true, false].map((f) => {
      const rs = results.get(f) ?? []
      return `| ${f ? 'on' : 'off'} | ${med(rs.map((r) => r.rate)).toFixed(0)} (${rs.map((r) => r.rate.toFixed(0)).join(', ')}) | ${med(rs.map((r) => r.commitP50)).toFixed(2)} | ${med(rs.map((r) => r.commitP99)).toFixed(2)} |`
    })
  ]
  return lines.join('\n')
}
