import { createRequire } from 'node:module'
import { IotlessError } from '../core/errors.js'

const require = createRequire(import.meta.url)

/**
 * Loads an optional store driver (better-sqlite3, ioredis, pg) only when a store of that kind is configured, so
 * an install that uses none of them needs none of them. `field` names the setting that asked for it.
 */
export function loadDriver<T> (pkg: 'better-sqlite3' | 'ioredis' | 'pg', field: string): T {
  try {
    return require(pkg) as T
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') {
      throw new IotlessError('STORE_DRIVER_MISSING', `${field}: this store needs the npm package ${pkg}, which is not installed; run \`npm install ${pkg}\``, { cause: err })
    }
    throw new IotlessError('STORE_UNAVAILABLE', `${field}: ${pkg} failed to load: ${(err as Error).message}`, { cause: err })
  }
}
