import { isIotlessError } from '../core/errors.js'

/** `file:///x/y.js:12:5` of the first stack frame: where an unexpected error was thrown, without the raw stack. */
function thrownAt (err: Error): string | undefined {
  const frame = err.stack?.split('\n').find((l) => /^\s+at /.test(l))
  const m = frame === undefined ? null : /\(?((?:file:\/\/|\/|node:)[^()\s]+:\d+:\d+)\)?\s*$/.exec(frame)
  return m?.[1]
}

/**
 * Prints a CLI failure the one way every entry point does (`iotless: CODE: message`) and returns its exit code.
 * No raw stack reaches the user: an error without a code of ours is INTERNAL_ERROR with its message, its
 * system code (ECONNREFUSED, ...) and where it was thrown; IOTLESS_DEBUG=1 adds the stack.
 */
export function reportError (err: unknown, env: Readonly<Record<string, string | undefined>> = process.env): number {
  if (isIotlessError(err)) {
    process.stderr.write(`iotless: ${err.code}: ${err.message}\n`)
    if (env.IOTLESS_DEBUG === '1' && err.stack !== undefined) process.stderr.write(err.stack + '\n')
    return err.exitCode
  }
  if (!(err instanceof Error)) {
    process.stderr.write(`iotless: INTERNAL_ERROR: ${String(err)}\n`)
    return 1
  }
  const sys = (err as NodeJS.ErrnoException).code
  const where = thrownAt(err)
  const extra = [typeof sys === 'string' && !err.message.includes(sys) ? sys : undefined, where === undefined ? undefined : `at ${where}`].filter((x) => x !== undefined)
  process.stderr.write(`iotless: INTERNAL_ERROR: ${err.message}${extra.length > 0 ? ` (${extra.join(', ')})` : ''}\n`)
  if (env.IOTLESS_DEBUG === '1') process.stderr.write((err.stack ?? '') + '\n')
  else process.stderr.write('iotless: this is a bug or an unhandled failure; IOTLESS_DEBUG=1 prints the stack for a report\n')
  return 1
}

/**
 * An error thrown or rejected outside any command's own handling (a timer, an event handler) ends the process
 * the same way: one coded line on stderr, exit 1, no raw stack.
 */
export function reportUncaught (proc: NodeJS.Process = process): void {
  const onFatal = (err: unknown): void => {
    proc.exitCode = reportError(err)
    proc.exit()
  }
  proc.on('uncaughtException', onFatal)
  proc.on('unhandledRejection', onFatal)
}
