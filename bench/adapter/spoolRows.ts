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
