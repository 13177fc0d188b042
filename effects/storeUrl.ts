import { isAbsolute, resolve } from 'node:path'
import { IotlessError } from '../core/errors.js'

/** Where a store lives, parsed from its URL. */
export type StoreLocation =
  | { kind: 'sqlite'; path: string }
  | { kind: 'redis'; url: string; prefix: string }
  | { kind: 'postgres'; url: string; schema: string }
  | { kind: 'memory' }

/**
 * `sqlite:PATH` (relative to `baseDir`), `redis://` or `rediss://` (optional `?prefix=`), `postgres://` or
 * `postgresql://` (optional `?schema=`), or `memory:` (tests; lost with the process). `field` names the setting
 * in every error.
 */
export function parseStoreUrl (raw: string, field: string, baseDir = process.cwd()): StoreLocation {
  const scheme = /^([a-z]+):/.exec(raw)?.[1]
  switch (scheme) {
    case 'memory':
      return { kind: 'memory' }
    case 'sqlite': {
      const path = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '')
      if (path === '') throw invalid(field, raw, 'sqlite: needs a file path, e.g. sqlite:data/iotless.db')
      return { kind: 'sqlite', path: path === ':memory:' ? path : isAbsolute(path) ? path : resolve(baseDir, path) }
    }
    case 'redis':
    case 'rediss': {
      const u = parse(raw, field)
      const prefix = u.searchParams.get('prefix') ?? 'iotless:'
      u.searchParams.delete('prefix')
      return { kind: 'redis', url: u.toString(), prefix }
    }
    case 'postgres':
    case 'postgresql': {
      const u = parse(raw, field)
      const schema = u.searchParams.get('schema') ?? 'public'
      u.searchParams.delete('schema')
      return { kind: 'postgres', url: u.toString(), schema }
    }
    default:
      throw invalid(field, raw, 'use sqlite:PATH, redis://HOST:PORT, postgres://USER@HOST/DB or memory:')
  }
}

function parse (raw: string, field: string): URL {
  try {
    return new URL(raw)
  } catch {
    throw invalid(field, raw, 'not a URL')
  }
}

function invalid (field: string, raw: string, why: string): IotlessError {
  const shown = raw.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@')
  return new IotlessError('CONFIG_INVALID', `${field}: ${JSON.stringify(shown)} is not a store URL: ${why}`)
}
