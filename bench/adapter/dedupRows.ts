/**
 * The dedup window's rows of `npm run bench:adapter` (issue 14): the same adapter -> HTTP sink path as the
 * main table's "QoS 1, batching off" row, without the window and with it in each store that holds one
 * (SQLite, in a temporary file; Redis, BENCH_REDIS or 127.0.0.1:6379, a prefix of its own). PostgreSQL holds
 * the effect log, not the window (docs/effects.md), so it has no row here. The three adapters run side by side,
 * each on its own topic and sink, and are measured in alternation, one round of each per BENCH_REPEAT, so a
 * change of the shared machine's load falls on all three: medians, and the ratio to plain QoS 1 of the same
 * run. run.ts lends its helpers (startSink, startAdapter, saturate, fixedRate, ready); this file adds no
 * harness of its own.
 */
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

interface Tracker { reset (): Promise<void>; close (): Promise<void> }

export interface DedupBenchHelpers<T extends Tracker, P> {
  pub: P
  run: string
  repeat: number
  messages: number
  startSink (): Promise<{ url: string; tracker: T }>
  startAdapter (sinkUrl: string, topic: string, qos: 0 | 1, batch: boolean, adapter?: Record<string, unknown>): Promise<ChildProcess>
  ready (pub: P, topic: string, tracker: T): Promise<void>
  saturate (pub: P, topic: string, qos: 0 | 1, tracker: T, n: number): Promise<{ rate: number; lost: number; duplicates: number }>
  fixedRate (pub: P, topic: string, qos: 0 | 1, tracker: T): Promise<{ p50: number; p99: number; lost: number; duplicates: number }>
  /** CPU seconds (user + system, every thread) a process has used so far. */
  cpuSeconds (pid: number): number
}

export interface DedupRow { path: string; rates: number[]; p50s: number[]; p99s: number[]; cpuPer1k: number[]; lost: number; dup: number }

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s.length === 0 ? NaN : (s[Math.floor((s.length - 1) / 2)] as number + (s[Math.ceil((s.length - 1) / 2)] as number)) / 2 }

export async function dedupRows<T extends Tracker, P> (h: DedupBenchHelpers<T, P>): Promise<DedupRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-dedup-'))
  const redis = process.env.BENCH_REDIS ?? 'redis://127.0.0.1:6379'
  const paths: Array<{ name: string; dedup?: { url: string } }> = [
    { name: 'plain QoS 1 (no window)' },
    { name: 'dedup window, SQLite (WAL, synchronous=FULL)', dedup: { url: `sqlite:${path.join(dir, 'dedup.db')}` } },
    { name: 'dedup window, Redis', dedup: { url: `${redis}/?prefix=bench-dedup-${h.run}:` } }
  ]
  const running: Array<{ name: string; topic: string; tracker: T; child: ChildProcess; row: DedupRow }> = []
  try {
    for (const [k, p] of paths.entries()) {
      const topic = `bench/${h.run}/dedup/${k}`
      const sink = await h.startSink()
      const child = await h.startAdapter(sink.url, topic, 1, false, p.dedup === undefined ? {} : { dedup: p.dedup })
      await h.ready(h.pub, topic, sink.tracker)
      running.push({ name: p.name, topic, tracker: sink.tracker, child, row: { path: p.name, rates: [], p50s: [], p99s: [], cpuPer1k: [], lost: 0, dup: 0 } })
    }
    for (let r = 0; r < h.repeat; r++) {
      for (const x of running) {
        const cpu0 = h.cpuSeconds(x.child.pid as number)
        const sat = await h.saturate(h.pub, x.topic, 1, x.tracker, h.messages)
        x.row.cpuPer1k.push(((h.cpuSeconds(x.child.pid as number) - cpu0) / h.messages) * 1000)
        const fix = await h.fixedRate(h.pub, x.topic, 1, x.tracker)
        x.row.rates.push(sat.rate); x.row.p50s.push(fix.p50); x.row.p99s.push(fix.p99)
        x.row.lost += sat.lost + fix.lost; x.row.dup += sat.duplicates + fix.duplicates
      }
    }
    return running.map((x) => x.row)
  } finally {
    for (const x of running) {
      x.child.kill('SIGTERM')
      await once(x.child, 'exit')
      await x.tracker.close()
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The section's table: throughput and p50 beside plain QoS 1 of the same run. */
export function dedupTable (rows: DedupRow[], rate: number): string {
  const f = (x: number, d = 2): string => Number.isFinite(x) ? x.toFixed(d) : 'n/a'
  const base = rows[0]
  const lines = [
    `| path | msg/s at saturation (median) | each round | vs plain QoS 1 | lost | duplicates | p50 ms @${rate}/s | added p50 ms | p99 ms @${rate}/s | adapter CPU s / 1k msgs |`,
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |'
  ]
  for (const r of rows) {
    const ratio = base === undefined ? NaN : median(r.rates) / median(base.rates)
    lines.push(`| ${r.path} | ${f(median(r.rates), 0)} | ${r.rates.map((x) => f(x, 0)).join(', ')} | ${r === base ? '100%' : f(ratio * 100, 0) + '%'} | ${r.lost} | ${r.dup} | ${f(median(r.p50s))} | ${r === base || base === undefined ? '-' : f(median(r.p50s) - median(base.p50s))} | ${f(median(r.p99s))} | ${f(median(r.cpuPer1k), 3)} |`)
  }
  return lines.join('\n')
}
