import { join } from 'node:path'
import { readdirSync } from 'node:fs'
import { IotlessError } from '../../core/errors.js'
import { exists, isDirectory, readTraceFile } from './readTraceFile.js'
import { loadAzure2019 } from './loadAzure2019.js'
import { loadAzure2021 } from './loadAzure2021.js'
import { loadUlb } from './loadUlb.js'
import type { LoadOptions, Trace, TraceFormat } from './trace.js'

export const TRACE_FORMATS: readonly TraceFormat[] = ['azure2019', 'azure2021', 'ulb']

/** Guesses the format from what the path holds: invocations.csv, R1.txt, or a CSV starting `app,func,`. */
export function detectTraceFormat (path: string): TraceFormat {
  if (!exists(path)) throw new IotlessError('TRACE_NOT_FOUND', `trace ${path} does not exist; check --trace`)
  if (isDirectory(path)) {
    if (exists(join(path, 'invocations.csv'))) return 'azure2019'
    if (exists(join(path, 'R1.txt'))) return 'ulb'
    const csv = readdirSync(path).filter((f) => f.endsWith('.csv'))
    if (csv.length === 1 && startsLike2021(join(path, csv[0] ?? ''))) return 'azure2021'
  } else if (startsLike2021(path)) {
    return 'azure2021'
  }
  throw new IotlessError('TRACE_INVALID', `cannot tell the format of ${path}; pass --trace-format ${TRACE_FORMATS.join('|')}`)
}

function startsLike2021 (file: string): boolean {
  return readTraceFile(file).slice(0, 40).startsWith('app,func,end_timestamp')
}

export function loadTrace (path: string, format: TraceFormat | undefined, options: Partial<LoadOptions> = {}): Trace {
  const f = format ?? detectTraceFormat(path)
  switch (f) {
    case 'azure2019': return loadAzure2019(path, options)
    case 'azure2021': return loadAzure2021(path, options)
    case 'ulb': return loadUlb(path, options)
  }
}
