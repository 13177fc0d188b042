/**
 * Reads TAP 14 output (tap's own reporter, subtests indented by four spaces) and returns every failed
 * point with the names of the subtests around it and the first lines of its YAML diagnostic, so that a
 * run's failures can be printed again after the last line of a long log (CI shows the tail).
 */
export interface TapFailure {
  /** Names from the file down to the failed point, outermost first. */
  path: string[]
  /** The YAML block after the `not ok` line, at most `maxDiagLines` lines, unindented. */
  diag: string[]
}

const SUBTEST = /^# Subtest: (.*)$/
const NOT_OK = /^not ok \d+(?: - (.*?))?(?: # (?:time=.*|TODO.*|SKIP.*))?$/
const DIAG_START = /^ {2}---$/
const DIAG_END = /^ {2}\.\.\.$/

export function tapFailures (lines: Iterable<string>, maxDiagLines = 80): TapFailure[] {
  const out: TapFailure[] = []
  /** The open subtest's name at each depth (depth = indentation / 4). */
  const open: string[] = []
  /** Where the YAML block being read goes; a throwaway one for a repeated parent. */
  let diagOf: TapFailure | undefined
  let diagDepth = 0
  let pendingDiag = false
  for (const raw of lines) {
    const indent = raw.length - raw.trimStart().length
    const depth = Math.floor(indent / 4)
    const line = raw.slice(depth * 4)
    if (pendingDiag) {
      pendingDiag = false
      // The YAML block, when there is one, starts on the line right after the `not ok`.
      if (!(depth === diagDepth && DIAG_START.test(line))) diagOf = undefined
      else continue
    }
    if (diagOf !== undefined) {
      if (depth === diagDepth && DIAG_END.test(line)) { diagOf = undefined; continue }
      if (diagOf.diag.length < maxDiagLines) diagOf.diag.push(raw.slice(diagDepth * 4 + 2))
      continue
    }
    const sub = SUBTEST.exec(line)
    if (sub !== null) {
      open.length = depth
      open[depth] = sub[1] ?? ''
      continue
    }
    const bad = NOT_OK.exec(line)
    if (bad === null) continue
    // A failed subtest closes the subtest opened at the same depth; a failed assertion sits inside it.
    const failure: TapFailure = { path: [...open.slice(0, depth), bad[1] ?? ''], diag: [] }
    // A parent's `not ok` repeats what its failed children already said: keep the deepest ones only.
    const child = out.length > 0 ? out[out.length - 1] : undefined
    const repeats = child !== undefined && child.path.length > failure.path.length &&
      failure.path.every((p, i) => child.path[i] === p)
    open.length = depth
    if (!repeats) out.push(failure)
    diagOf = failure
    diagDepth = depth
    pendingDiag = true
  }
  return out
}

/** The YAML keys worth repeating, in the order printed; `at` is shortened to file:line. */
const KEEP = ['at', 'message', 'diff', 'found', 'wanted', 'pattern', 'exitCode', 'signal', 'expired', 'stack']

/**
 * The useful part of a tap diagnostic: where (file:line of the source, not of dist/), the diff or
 * found/wanted, an exit code or signal, the first lines of the stack; not the source excerpt.
 */
export function shortDiag (diag: readonly string[], maxLines = 14): string[] {
  const blocks = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of diag) {
    const key = /^([A-Za-z]+):(.*)$/.exec(line)
    if (key !== null) {
      current = [line]
      if (!blocks.has(key[1] ?? '')) blocks.set(key[1] ?? '', current)
      continue
    }
    current?.push(line)
  }
  const out: string[] = []
  for (const k of KEEP) {
    const b = blocks.get(k)
    if (b === undefined) continue
    if (k === 'at') {
      const file = b.find((l) => /^ {2}fileName:/.test(l))?.replace(/^ {2}fileName:\s*/, '')
      const line = b.find((l) => /^ {2}lineNumber:/.test(l))?.replace(/^ {2}lineNumber:\s*/, '')
      if (file !== undefined) out.push(`at: ${file}${line === undefined ? '' : ':' + line}`)
      continue
    }
    out.push(...(k === 'stack' ? b.slice(0, 4) : b))
  }
  return out.slice(0, maxLines)
}

/** The summary printed after the log: one heading, then each failure's path and diagnostic. */
export function formatFailures (failures: readonly TapFailure[]): string {
  if (failures.length === 0) return '# failures: none\n'
  const parts = [`# failures (${failures.length}), repeated from above:`]
  for (const f of failures) {
    parts.push(`# FAIL ${f.path.join(' > ')}`)
    for (const d of shortDiag(f.diag)) parts.push(`#     ${d}`)
  }
  return parts.join('\n') + '\n'
}
