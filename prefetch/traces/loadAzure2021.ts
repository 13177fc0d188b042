import { basename, join } from 'node:path'
import { readdirSync } from 'node:fs'
import { IotlessError } from '../../core/errors.js'
import { isDirectory, lines, numberAt, readTraceFile } from './readTraceFile.js'
import { DEFAULT_LOAD_OPTIONS, seriesFromMap, type FunctionSeries, type LoadOptions, type Trace } from './trace.js'

/**
 * Azure Functions Invocation Trace 2021 (Zhang et al., SOSP'21): one row per invocation,
 * `app,func,end_timestamp,duration`, times in seconds from the trace start. An invocation starts at
 * end_timestamp - duration and is counted in that minute. A function's duration is the mean of its rows.
 * The trace gives no memory, so every function gets `defaultMemoryMb`.
 * `path` is the CSV file or a directory holding exactly one .csv file.
 */
export function loadAzure2021 (path: string, options: Partial<LoadOptions> = {}): Trace {
  const opts = { ...DEFAULT_LOAD_OPTIONS, ...options }
  const file = isDirectory(path) ? onlyCsv(path) : path
  const rows = lines(readTraceFile(file))
  const header = rows[0]?.text.split(',') ?? []
  const want = ['app', 'func', 'end_timestamp', 'duration']
  if (want.some((w, i) => header[i] !== w)) {
    throw new IotlessError('TRACE_INVALID', `${file}:1: expected header ${want.join(',')}, found ${rows[0]?.text ?? '(empty file)'}`)
  }
  const perFn = new Map<string, { byMinute: Map<number, number>; durSum: number; n: number }>()
  let lastMinute = 0
  for (const { line, text } of rows.slice(1)) {
    const c = text.split(',')
    const end = numberAt(c[2], file, line, 'end_timestamp')
    const dur = numberAt(c[3], file, line, 'duration')
    if (dur < 0 || end < dur) throw new IotlessError('TRACE_INVALID', `${file}:${line}: duration ${dur} s does not fit end_timestamp ${end} s`)
    const minute = Math.floor((end - dur) / 60)
    const key = `${c[0]}/${c[1]}`
    let s = perFn.get(key)
    if (s === undefined) { s = { byMinute: new Map(), durSum: 0, n: 0 }; perFn.set(key, s) }
    s.byMinute.set(minute, (s.byMinute.get(minute) ?? 0) + 1)
    s.durSum += dur
    s.n++
    if (minute > lastMinute) lastMinute = minute
  }
  if (perFn.size === 0) throw new IotlessError('TRACE_INVALID', `${file}: no invocations after the header`)
  const functions: FunctionSeries[] = [...perFn].map(([id, s]) => ({
    id,
    trigger: undefined,
    ...seriesFromMap(s.byMinute),
    durationMs: (s.durSum / s.n) * 1000,
    memoryMb: opts.defaultMemoryMb
  }))
  return { format: 'azure2021', source: file, firstMinuteLabel: 0, minutes: lastMinute + 1, functions }
}

function onlyCsv (dir: string): string {
  const csv = readdirSync(dir).filter((f) => f.endsWith('.csv'))
  if (csv.length !== 1) {
    throw new IotlessError('TRACE_NOT_FOUND', `${dir} should hold exactly one azure2021 .csv file, found ${csv.length === 0 ? 'none' : csv.join(', ')}; pass the file itself`)
  }
  return join(dir, basename(csv[0] ?? ''))
}
