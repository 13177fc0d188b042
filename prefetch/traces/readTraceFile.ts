import { readFileSync, statSync } from 'node:fs'
import { IotlessError } from '../../core/errors.js'

/** Reads a trace file as text, turning a missing file into TRACE_NOT_FOUND. */
export function readTraceFile (path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new IotlessError('TRACE_NOT_FOUND', `trace file ${path} does not exist; check --trace`, { cause: err })
    }
    throw new IotlessError('TRACE_INVALID', `cannot read trace file ${path}: ${(err as Error).message}`, { cause: err })
  }
}

export function isDirectory (path: string): boolean {
  try { return statSync(path).isDirectory() } catch { return false }
}

export function exists (path: string): boolean {
  try { statSync(path); return true } catch { return false }
}

/** Splits text into lines, accepting LF and CRLF, dropping blank lines but keeping 1-based line numbers. */
export function lines (text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = []
  const raw = text.split('\n')
  for (let i = 0; i < raw.length; i++) {
    const t = (raw[i] ?? '').replace(/\r$/, '')
    if (t.trim() !== '') out.push({ line: i + 1, text: t })
  }
  return out
}

/** A finite number or a TRACE_INVALID error naming file, line and column. */
export function numberAt (value: string | undefined, file: string, line: number, column: string): number {
  const n = value === undefined || value.trim() === '' ? NaN : Number(value)
  if (!Number.isFinite(n)) {
    throw new IotlessError('TRACE_INVALID', `${file}:${line}: column ${column} is ${JSON.stringify(value)}, not a number`)
  }
  return n
}
