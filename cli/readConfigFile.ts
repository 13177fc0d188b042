import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { IotlessError } from '../core/errors.js'

/**
 * Reads a file the config names (a PEM, a password file), relative to the config file's folder. A missing or
 * unreadable file is CONFIG_INVALID naming the field and the path, never the content.
 */
export function readConfigFile (file: string, baseDir: string, field: string): Buffer {
  const path = resolve(baseDir, file)
  try {
    return readFileSync(path)
  } catch (err) {
    throw new IotlessError('CONFIG_INVALID', `${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}
