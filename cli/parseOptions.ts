import { parseArgs, type ParseArgsConfig } from 'node:util'
import { IotlessError } from '../core/errors.js'

type Options = NonNullable<ParseArgsConfig['options']>

/** node:util parseArgs with unknown options turned into a CLI_USAGE error that shows the command's usage. */
export function parseOptions<O extends Options> (argv: string[], options: O, usage: string, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true })
  } catch (err) {
    throw new IotlessError('CLI_USAGE', `${err instanceof Error ? err.message : String(err)}\n\n${usage}`)
  }
}
