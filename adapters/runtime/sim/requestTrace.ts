import { join } from 'node:path'
import { IotlessError } from '../../../core/errors.js'
import { loadAzure2019 } from '../../../prefetch/traces/loadAzure2019.js'
import { loadAzure2021 } from '../../../prefetch/traces/loadAzure2021.js'
import { detectTraceFormat } from '../../../prefetch/traces/loadTrace.js'
import { exists, isDirectory, lines, numberAt, readTraceFile } from '../../../prefetch/traces/readTraceFile.js'
import type { TraceFormat } from '../../../prefetch/traces/trace.js'
import { seededRandom } from '../../../core/seededRandom.js'

/** One function's requests: start times (ms from the trace start, ascending) and service times at full CPU. */
export interface RequestSeries {
  id: string
  arrivalsMs: Float64Array
  durationsMs: Float32Array
}

export interface RequestTrace {
  format: TraceFormat
  source: string
  /** Length of the trace in ms: arrivals fall in [0, durationMs). */
  durationMs: number
  functions: RequestSeries[]
  /** How the requests were made from the file, for the report. */
  how: string
}

export interface RequestTraceOptions {
  /** Service time of requests the trace gives none for (ULB packets): 50 ms. */
  defaultDurationMs: number
  /** Seed of the generator that spreads Azure 2019 minutes into requests. */
  seed: number
  /** Keep the functions with the most requests (0: all). */
  topFunctions: number
  /** Cut the trace to [fromMs, fromMs + lengthMs) and shift it to 0 (lengthMs 0: to the end). */
  fromMs: number
  lengthMs: number
  /** Divide every inter-arrival time by this (a replay sped up N times); service times are kept. */
  speedup: number
}

export const REQUEST_TRACE_DEFAULTS: Readonly<RequestTraceOptions> = Object.freeze({
  defaultDurationMs: 50,
  seed: 1,
  topFunctions: 0,
  fromMs: 0,
  lengthMs: 0,
  speedup: 1
})

/**
 * Loads a trace request by request.
 * - azure2021: each row is one request, starting at end_timestamp - duration, served in `duration`.
 * - azure2019: a minute's count n becomes n start times drawn uniformly in that minute (seeded): given n arrivals
 *   in an interval, a Poisson process places them as n uniform points, so this is the Poisson process with the
 *   trace's per-minute rate. Service times are drawn from the function's duration percentiles in durations.csv
 *   (0, 1, 25, 50, 75, 99, 100), linearly between them, so their spread is the trace's, not an exponential's.
 * - ulb: each sensing (R*.txt) and neighbour (N*.txt) packet is one request of its node's function (`node-<id>`),
 *   at its real time; packets have no service time, so every one takes `defaultDurationMs`.
 */
export function loadRequestTrace (path: string, format: TraceFormat | undefined, options: Partial<RequestTraceOptions> = {}): RequestTrace {
  const opts = { ...REQUEST_TRACE_DEFAULTS, ...options }
  const f = format ?? detectTraceFormat(path)
  let trace: RequestTrace
  switch (f) {
    case 'azure2021': trace = loadAzure2021Requests(path); break
    case 'azure2019': trace = loadAzure2019Requests(path, opts.seed); break
    case 'ulb': trace = loadUlbRequests(path, opts.defaultDurationMs); break
  }
  return shape(trace, opts)
}

function shape (trace: RequestTrace, opts: RequestTraceOptions): RequestTrace {
  let fns = trace.functions
  const from = opts.fromMs
  const to = opts.lengthMs > 0 ? from + opts.lengthMs : Infinity
  if (from > 0 || to < Infinity || opts.speedup !== 1) {
    fns = fns.map((s) => {
      let lo = 0
      while (lo < s.arrivalsMs.length && (s.arrivalsMs[lo] ?? 0) < from) lo++
      let hi = lo
      while (hi < s.arrivalsMs.length && (s.arrivalsMs[hi] ?? 0) < to) hi++
      const arrivalsMs = s.arrivalsMs.slice(lo, hi).map((t) => (t - from) / opts.speedup)
      return { id: s.id, arrivalsMs, durationsMs: s.durationsMs.slice(lo, hi) }
    }).filter((s) => s.arrivalsMs.length > 0)
  }
  if (opts.topFunctions > 0) fns = [...fns].sort((a, b) => b.arrivalsMs.length - a.arrivalsMs.length).slice(0, opts.topFunctions)
  if (fns.length === 0) throw new IotlessError('TRACE_INVALID', `${trace.source}: no requests left in the slice asked for`)
  const end = to < Infinity ? (to - from) / opts.speedup : trace.durationMs / opts.speedup
  return { ...trace, durationMs: end, functions: fns }
}

function loadAzure2021Requests (path: string): RequestTrace {
  // Reuse the minute loader's header and value checks, then read the rows again for the exact times.
  const minuteTrace = loadAzure2021(path)
  const file = minuteTrace.source
  const per = new Map<string, Array<[number, number]>>()
  let last = 0
  for (const { line, text } of lines(readTraceFile(file)).slice(1)) {
    const c = text.split(',')
    const end = numberAt(c[2], file, line, 'end_timestamp') * 1000
    const dur = numberAt(c[3], file, line, 'duration') * 1000
    const key = `${c[0]}/${c[1]}`
    let a = per.get(key)
    if (a === undefined) { a = []; per.set(key, a) }
    a.push([end - dur, dur])
    if (end > last) last = end
  }
  return {
    format: 'azure2021',
    source: file,
    durationMs: Math.ceil(last),
    functions: [...per].map(([id, rows]) => series(id, rows)),
    how: 'one request per row: start = end_timestamp - duration, service time = duration'
  }
}

function series (id: string, rows: Array<[number, number]>): RequestSeries {
  rows.sort((x, y) => x[0] - y[0])
  return { id, arrivalsMs: Float64Array.from(rows, (r) => r[0]), durationsMs: Float32Array.from(rows, (r) => r[1]) }
}

const PCTS = [0, 1, 25, 50, 75, 99, 100]

function loadAzure2019Requests (dir: string, seed: number): RequestTrace {
  const minuteTrace = loadAzure2019(dir)
  const quantiles = readDurationQuantiles(join(dir, 'durations.csv'))
  const rnd = seededRandom(seed)
  const functions: RequestSeries[] = []
  for (const fn of minuteTrace.functions) {
    let n = 0
    for (const c of fn.counts) n += c
    const arrivalsMs = new Float64Array(n)
    const durationsMs = new Float32Array(n)
    const q = quantiles.get(fn.id)
    let k = 0
    for (let i = 0; i < fn.minutes.length; i++) {
      const m = fn.minutes[i] ?? 0
      const c = fn.counts[i] ?? 0
      const start = k
      for (let j = 0; j < c; j++) arrivalsMs[k++] = (m + rnd()) * 60_000
      arrivalsMs.subarray(start, k).sort()
    }
    for (let j = 0; j < n; j++) durationsMs[j] = q === undefined ? fn.durationMs : sampleQuantiles(q, rnd())
    functions.push({ id: fn.id, arrivalsMs, durationsMs })
  }
  return {
    format: 'azure2019',
    source: dir,
    durationMs: minuteTrace.minutes * 60_000,
    functions: functions.filter((f) => f.arrivalsMs.length > 0),
    how: `minute counts spread uniformly within each minute (a Poisson process given the count, seed ${seed}); service times drawn from durations.csv percentiles 0/1/25/50/75/99/100, linear between them`
  }
}

/** Service time at quantile u (0..1), linear between the trace's percentiles; at least 1 ms. */
function sampleQuantiles (q: Float64Array, u: number): number {
  const p = u * 100
  for (let i = 1; i < PCTS.length; i++) {
    const hi = PCTS[i] ?? 100
    if (p <= hi) {
      const lo = PCTS[i - 1] ?? 0
      const v = (q[i - 1] ?? 0) + ((q[i] ?? 0) - (q[i - 1] ?? 0)) * ((p - lo) / (hi - lo))
      return Math.max(1, v)
    }
  }
  return Math.max(1, q[PCTS.length - 1] ?? 1)
}

function readDurationQuantiles (file: string): Map<string, Float64Array> {
  const out = new Map<string, Float64Array>()
  if (!exists(file)) return out
  const rows = lines(readTraceFile(file))
  const header = rows[0]?.text.split(',') ?? []
  const cols = PCTS.map((p) => header.indexOf(`percentile_Average_${p}`))
  if (cols.some((c) => c < 0)) return out
  for (const { line, text } of rows.slice(1)) {
    const c = text.split(',')
    out.set(`${c[0]}/${c[1]}/${c[2]}`, Float64Array.from(cols, (i, j) => numberAt(c[i], file, line, `percentile_Average_${PCTS[j]}`)))
  }
  return out
}

function loadUlbRequests (dir: string, durationMs: number): RequestTrace {
  if (!isDirectory(dir)) throw new IotlessError('TRACE_NOT_FOUND', `${dir} is not a directory of ULB R*.txt / N*.txt files`)
  // R: ts_ms node_id ...; N: ts_ms seq pkt_no node_id ... (ReadMe.txt).
  const kinds: Array<[string, number]> = [['R1.txt', 1], ['R2.txt', 1], ['R3.txt', 1], ['N1.txt', 3], ['N2.txt', 3], ['N3.txt', 3]]
  const per = new Map<number, number[]>()
  let t0 = Infinity
  let t1 = -Infinity
  let read = 0
  for (const [name, nodeCol] of kinds) {
    const file = join(dir, name)
    if (!exists(file)) continue
    read++
    for (const { line, text } of lines(readTraceFile(file))) {
      const f = text.trim().split(/\s+/)
      const ts = numberAt(f[0], file, line, 'ts_ms')
      const node = numberAt(f[nodeCol], file, line, 'node_id')
      let a = per.get(node)
      if (a === undefined) { a = []; per.set(node, a) }
      a.push(ts)
      if (ts < t0) t0 = ts
      if (ts > t1) t1 = ts
    }
  }
  if (read === 0) throw new IotlessError('TRACE_NOT_FOUND', `${dir} has none of R1..R3.txt, N1..N3.txt (ULB packets)`)
  const functions = [...per].sort((a, b) => a[0] - b[0]).map(([node, ts]) => {
    ts.sort((x, y) => x - y)
    return { id: `node-${node}`, arrivalsMs: Float64Array.from(ts, (t) => t - t0), durationsMs: new Float32Array(ts.length).fill(durationMs) }
  })
  return { format: 'ulb', source: dir, durationMs: t1 - t0 + 1, functions, how: `one request per R/N packet at its timestamp, node = function, service time ${durationMs} ms each` }
}
