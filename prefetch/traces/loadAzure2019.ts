import { join } from 'node:path'
import { IotlessError } from '../../core/errors.js'
import { exists, lines, numberAt, readTraceFile } from './readTraceFile.js'
import { DEFAULT_LOAD_OPTIONS, type FunctionSeries, type LoadOptions, type Trace } from './trace.js'

/**
 * Azure Functions Trace 2019 (Shahrad et al., ATC'20; github.com/Azure/AzurePublicDataset, AzureFunctionsDataset2019.md):
 * - invocations.csv: HashOwner,HashApp,HashFunction,Trigger,<minute columns>. The minute columns may be any
 *   contiguous run (1..1440 in the original day files, 480..959 in the 500-function slice).
 * - durations.csv (optional): per function, `Average` ms is used.
 * - memory.csv (optional): per application (HashOwner+HashApp); AverageAllocatedMb or one of its percentiles.
 *   The original has one row per app; slices that repeat the app's row per function are accepted (first row wins,
 *   they are equal).
 */
export function loadAzure2019 (dir: string, options: Partial<LoadOptions> = {}): Trace {
  const opts = { ...DEFAULT_LOAD_OPTIONS, ...options }
  const invPath = join(dir, 'invocations.csv')
  const rows = lines(readTraceFile(invPath))
  const header = rows[0]?.text.split(',') ?? []
  const fixed = ['HashOwner', 'HashApp', 'HashFunction', 'Trigger']
  for (let i = 0; i < fixed.length; i++) {
    if (header[i] !== fixed[i]) {
      throw new IotlessError('TRACE_INVALID', `${invPath}:1: expected column ${i + 1} to be ${fixed[i]}, found ${JSON.stringify(header[i])}; is this an Azure 2019 invocations file?`)
    }
  }
  const minuteCols = header.slice(4).map((h, i) => numberAt(h, invPath, 1, `header ${i + 5}`))
  if (minuteCols.length === 0) throw new IotlessError('TRACE_INVALID', `${invPath}:1: no minute columns after Trigger`)
  for (let i = 1; i < minuteCols.length; i++) {
    if (minuteCols[i] !== (minuteCols[i - 1] ?? 0) + 1) {
      throw new IotlessError('TRACE_INVALID', `${invPath}:1: minute columns must be contiguous, but ${minuteCols[i - 1]} is followed by ${minuteCols[i]}`)
    }
  }
  const durations = readDurations(join(dir, 'durations.csv'))
  const memory = readMemory(join(dir, 'memory.csv'), opts.memoryStat)

  const functions: FunctionSeries[] = []
  for (const { line, text } of rows.slice(1)) {
    const cells = text.split(',')
    if (cells.length !== header.length) {
      throw new IotlessError('TRACE_INVALID', `${invPath}:${line}: ${cells.length} columns, header has ${header.length}`)
    }
    const [owner = '', app = '', func = '', trigger = ''] = cells
    const active: number[] = []
    const counts: number[] = []
    for (let i = 4; i < cells.length; i++) {
      const c = cells[i] ?? ''
      if (c === '0') continue
      const n = numberAt(c, invPath, line, header[i] ?? String(i))
      if (n < 0 || !Number.isInteger(n)) throw new IotlessError('TRACE_INVALID', `${invPath}:${line}: minute ${header[i]} has count ${c}; counts are whole numbers >= 0`)
      if (n > 0) { active.push(i - 4); counts.push(n) }
    }
    const key = `${owner}/${app}/${func}`
    functions.push({
      id: key,
      trigger,
      minutes: Uint32Array.from(active),
      counts: Uint32Array.from(counts),
      durationMs: durations.get(key) ?? opts.defaultDurationMs,
      memoryMb: memory.get(`${owner}/${app}`) ?? opts.defaultMemoryMb
    })
  }
  return { format: 'azure2019', source: dir, firstMinuteLabel: minuteCols[0] ?? 0, minutes: minuteCols.length, functions }
}

function headerIndex (header: string[], name: string, file: string): number {
  const i = header.indexOf(name)
  if (i < 0) throw new IotlessError('TRACE_INVALID', `${file}:1: no column ${name}; columns are ${header.join(',')}`)
  return i
}

function readDurations (path: string): Map<string, number> {
  const out = new Map<string, number>()
  if (!exists(path)) return out
  const rows = lines(readTraceFile(path))
  const header = rows[0]?.text.split(',') ?? []
  const [o, a, f, avg] = ['HashOwner', 'HashApp', 'HashFunction', 'Average'].map((n) => headerIndex(header, n, path)) as [number, number, number, number]
  for (const { line, text } of rows.slice(1)) {
    const c = text.split(',')
    const ms = numberAt(c[avg], path, line, 'Average')
    if (ms < 0) throw new IotlessError('TRACE_INVALID', `${path}:${line}: Average is ${ms} ms; durations are >= 0`)
    out.set(`${c[o]}/${c[a]}/${c[f]}`, ms)
  }
  return out
}

function readMemory (path: string, stat: LoadOptions['memoryStat']): Map<string, number> {
  const out = new Map<string, number>()
  if (!exists(path)) return out
  const rows = lines(readTraceFile(path))
  const header = rows[0]?.text.split(',') ?? []
  const column = stat === 'avg' ? 'AverageAllocatedMb' : `AverageAllocatedMb_pct${stat}`
  const [o, a, m] = ['HashOwner', 'HashApp', column].map((n) => headerIndex(header, n, path)) as [number, number, number]
  for (const { line, text } of rows.slice(1)) {
    const c = text.split(',')
    const key = `${c[o]}/${c[a]}`
    if (out.has(key)) continue
    const mb = numberAt(c[m], path, line, column)
    if (mb <= 0) throw new IotlessError('TRACE_INVALID', `${path}:${line}: ${column} is ${mb}; memory must be > 0 MB`)
    out.set(key, mb)
  }
  return out
}
