import { readFileSync } from 'node:fs'
import { IotlessError } from './errors.js'

/** Where a secret comes from; never the config file itself. */
export interface SecretSource {
  /** Name of an environment variable holding the secret. Used when it is set. */
  env?: string
  /** Path of a file holding the secret (a mounted Kubernetes Secret); used when `env` is not given or not set. */
  file?: string
  /** What the secret is, for messages, e.g. "OpenWhisk API key". Default "secret". */
  label?: string
}

/**
 * Reads a secret from an environment variable or a file, trimmed (a trailing newline in a file is normal).
 * The variable wins when it is set, even to an empty value (which is an error). Errors name the variable or
 * the path, never the value: SECRET_MISSING, SECRET_UNREADABLE, SECRET_EMPTY. Pass `process.env` at the
 * CLI/config edge; nothing here reads it.
 */
export function readSecret (source: SecretSource, processEnv: Readonly<Record<string, string | undefined>>): string {
  const label = source.label ?? 'secret'
  if (source.env !== undefined && source.env !== '') {
    const value = processEnv[source.env]
    if (value !== undefined) {
      const trimmed = value.trim()
      if (trimmed === '') throw new IotlessError('SECRET_EMPTY', `${label}: environment variable ${source.env} is empty`)
      return trimmed
    }
    if (source.file === undefined || source.file === '') {
      throw new IotlessError('SECRET_MISSING', `${label}: environment variable ${source.env} is not set`)
    }
  }
  if (source.file === undefined || source.file === '') {
    throw new IotlessError('SECRET_MISSING', `${label}: give an environment variable or a file to read it from`)
  }
  let text: string
  try {
    text = readFileSync(source.file, 'utf8')
  } catch (err) {
    const code = (err as { code?: unknown }).code
    // Only the path and the errno code: an fs message never holds file content, but keep it that way.
    throw new IotlessError('SECRET_UNREADABLE', `${label}: cannot read ${source.file}${typeof code === 'string' ? ` (${code})` : ''}`)
  }
  const trimmed = text.trim()
  if (trimmed === '') throw new IotlessError('SECRET_EMPTY', `${label}: file ${source.file} is empty`)
  return trimmed
}
