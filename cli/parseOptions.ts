import { parseArgs, type ParseArgsConfig } from 'node:util'
import { IotlessError } from '../core/errors.js'

type Options = NonNullable<ParseArgsConfig['options']>
/** parseArgs' result for these options (spelled out so that declaration files can name it). */
type Parsed<O extends Options> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true }>>

/** node:util parseArgs with unknown options turned into a CLI_USAGE error that shows the command's usage. */
export function parseOptions<O extends Options> (argv: string[], options: O, usage: string, allowPositionals = false): Parsed<O> {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true })
  } catch (err) {
    throw new IotlessError('CLI_USAGE', `${err instanceof Error ? err.message : String(err)}\n\n${usage}`)
  }
}
