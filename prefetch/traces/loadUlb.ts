import { join } from 'node:path'
import { IotlessError } from '../../core/errors.js'
import { exists, lines, numberAt, readTraceFile } from './readTraceFile.js'
import { DEFAULT_LOAD_OPTIONS, seriesFromMap, type FunctionSeries, type LoadOptions, type Trace } from './trace.js'

/**
 * ULB sensor network, library 1 (ULB Machine Learning Group, 2006): R1.txt, R2.txt, R3.txt, one sensing packet per
 * node per minute, `ts_ms node_id seq ...` separated by spaces, CRLF line ends, decimal commas in the readings.
 * Only the first two fields are used, so the R3 quirk ("1 000" sequence numbers with one field more) is harmless.
 * Each node is one function (`node-<id>`); each packet one arrival; minute 0 is the minute of the first packet.
 * The trace has no durations or memory: the defaults apply.
 */
export function loadUlb (dir: string, options: Partial<LoadOptions> = {}): Trace {
  const opts = { ...DEFAULT_LOAD_OPTIONS, ...options }
  const files = ['R1.txt', 'R2.txt', 'R3.txt'].map((f) => join(dir, f)).filter(exists)
  if (files.length === 0) throw new IotlessError('TRACE_NOT_FOUND', `${dir} has none of R1.txt, R2.txt, R3.txt (ULB sensing packets)`)
  const packets: Array<{ ts: number; node: number }> = []
  for (const file of files) {
    for (const { line, text } of lines(readTraceFile(file))) {
      const f = text.trim().split(/\s+/)
      if (f.length < 3) throw new IotlessError('TRACE_INVALID', `${file}:${line}: expected "ts_ms node_id seq ...", found ${JSON.stringify(text)}`)
      const ts = numberAt(f[0], file, line, 'ts_ms')
      const node = numberAt(f[1], file, line, 'node_id')
      if (!Number.isInteger(node) || ts < 0) throw new IotlessError('TRACE_INVALID', `${file}:${line}: bad timestamp ${f[0]} or node ${f[1]}`)
      packets.push({ ts, node })
    }
  }
  let t0 = Infinity
  for (const p of packets) if (p.ts < t0) t0 = p.ts
  t0 = Math.floor(t0 / 60_000) * 60_000
  const byNode = new Map<number, Map<number, number>>()
  let lastMinute = 0
  for (const p of packets) {
    const m = Math.floor((p.ts - t0) / 60_000)
    let s = byNode.get(p.node)
    if (s === undefined) { s = new Map(); byNode.set(p.node, s) }
    s.set(m, (s.get(m) ?? 0) + 1)
    if (m > lastMinute) lastMinute = m
  }
  const functions: FunctionSeries[] = [...byNode].sort((a, b) => a[0] - b[0]).map(([node, s]) => ({
    id: `node-${node}`,
    trigger: 'mqtt',
    ...seriesFromMap(s),
    durationMs: opts.defaultDurationMs,
    memoryMb: opts.defaultMemoryMb
  }))
  return { format: 'ulb', source: dir, firstMinuteLabel: 0, minutes: lastMinute + 1, functions }
}
