import { isIotlessError } from '../core/errors.js'

/** Prints a CLI failure the one way every entry point does (`iotless: CODE: message`) and returns its exit code. */
export function reportError (err: unknown): number {
  if (isIotlessError(err)) {
    process.stderr.write(`iotless: ${err.code}: ${err.message}\n`)
    return err.exitCode
  }
  process.stderr.write(`iotless: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  return 1
}
