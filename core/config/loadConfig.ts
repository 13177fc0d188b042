import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { IotlessError } from '../errors.js'
import { checkRouteTargets } from './checkRouteTargets.js'
import { configSchema, type Config } from './schema.js'
import { applyEnvOverrides, envLeaves, type SchemaNode } from './envOverrides.js'
import { formatIssues, formatPath } from './formatIssues.js'

export const DEFAULT_CONFIG_FILE = 'iotless.yaml'

/** Variables read elsewhere that start with IOTLESS_ but are not config fields. */
export const RESERVED_ENV = new Set(['IOTLESS_CONFIG'])

export interface ConfigProblem { path: ReadonlyArray<PropertyKey>; message: string }

export interface LoadedConfig {
  config: Readonly<Config>
  /** The absolute path of the file read, or undefined when none was. */
  file: string | undefined
  /** Folder that relative paths in the config resolve against. */
  baseDir: string
  /** IOTLESS_* variables that overrode the file. */
  envApplied: string[]
}

export interface LoadConfigOptions {
  /** Path given with -c. Without it, iotless.yaml in cwd. */
  file?: string | undefined
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Checks that need component code (route filters, reply templates); run after the schema passes. */
  check?: (config: Config, baseDir: string) => ConfigProblem[]
}

let jsonSchemaCache: SchemaNode | undefined
export function configJsonSchema (): SchemaNode {
  jsonSchemaCache ??= z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as SchemaNode
  return jsonSchemaCache
}

function knownKeysAt (path: ReadonlyArray<PropertyKey>): string[] {
  let node: SchemaNode | undefined = configJsonSchema()
  for (const seg of path) {
    if (node === undefined) break
    if (typeof seg === 'number') node = node.items
    else if (node.properties !== undefined && node.properties[String(seg)] !== undefined) node = node.properties[String(seg)]
    else node = typeof node.additionalProperties === 'object' ? node.additionalProperties : undefined
  }
  return Object.keys(node?.properties ?? {})
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

function readRaw (file: string, explicit: boolean): Record<string, unknown> {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      throw new IotlessError('CONFIG_NOT_FOUND', explicit
        ? `config file ${file} does not exist`
        : `no ${DEFAULT_CONFIG_FILE} in ${dirname(file)}; create one (see the README) or pass -c FILE`)
    }
    throw new IotlessError('CONFIG_NOT_FOUND', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err })
  }
  let parsed: unknown
  try {
    parsed = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text, { prettyErrors: true })
  } catch (err) {
    throw new IotlessError('CONFIG_PARSE', `${file}: ${(err as Error).message}`, { cause: err })
  }
  if (parsed === null || parsed === undefined) return {}
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new IotlessError('CONFIG_INVALID', `${file}: (top level): expected a mapping of settings, got ${Array.isArray(parsed) ? 'a list' : typeof parsed}`)
  }
  return parsed as Record<string, unknown>
}

/**
 * Reads, overrides from the environment, validates and freezes the config, once, at start-up.
 * Every problem is reported at once, one line each, with the field path and what was expected.
 */
export function loadConfig (opts: LoadConfigOptions = {}): LoadedConfig {
  const cwd = opts.cwd ?? process.cwd()
  const env = opts.env ?? process.env
  const given = opts.file ?? env.IOTLESS_CONFIG
  const file = resolve(cwd, given ?? DEFAULT_CONFIG_FILE)
  const raw = readRaw(file, given !== undefined)
  const envApplied = applyEnvOverrides(raw, env, envLeaves(configJsonSchema()), RESERVED_ENV)

  const result = configSchema.safeParse(raw)
  if (!result.success) {
    const lines = formatIssues(result.error.issues, knownKeysAt)
    throw new IotlessError('CONFIG_INVALID', `${file} is invalid:\n  ${lines.join('\n  ')}`, { details: { problems: lines } })
  }
  const config = result.data
  // A route with `targets` is checked by checkRouteTargets alone (its `target` is only the default).
  const multiTier = (p: ConfigProblem): boolean => p.path[0] === 'routes' && config.routes[p.path[1] as number]?.targets !== undefined
  const problems = [...checkReferences(config).filter((p) => !multiTier(p)), ...checkRouteTargets(config, raw), ...(opts.check?.(config, dirname(file)) ?? [])]
  if (problems.length > 0) {
    const lines = problems.map((p) => `${formatPath(p.path)}: ${p.message}`)
    throw new IotlessError('CONFIG_INVALID', `${file} is invalid:\n  ${lines.join('\n  ')}`, { details: { problems: lines } })
  }
  return { config: deepFreeze(config), file, baseDir: dirname(file), envApplied }
}

function checkReferences (config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const names = Object.keys(config.functions)
  const targets = Object.keys(config.targets)
  config.routes.forEach((route, i) => {
    if (route.target !== 'local') {
      if (config.targets[route.target] === undefined) {
        problems.push({
          path: ['routes', i, 'target'],
          message: `no target named "${route.target}" under targets (defined: local${targets.map((n) => `, ${n}`).join('')})`
        })
      }
      return
    }
    if (config.functions[route.function] === undefined) {
      problems.push({
        path: ['routes', i, 'function'],
        message: `no function named "${route.function}" under functions (defined: ${names.length === 0 ? 'none' : names.join(', ')})`
      })
    }
  })
  if (config.broker.passwordEnv !== undefined && config.broker.passwordFile !== undefined) {
    problems.push({ path: ['broker', 'passwordFile'], message: 'set passwordEnv or passwordFile, not both' })
  }
  if ((config.broker.certFile === undefined) !== (config.broker.keyFile === undefined)) {
    problems.push({ path: ['broker', config.broker.certFile === undefined ? 'certFile' : 'keyFile'], message: 'a client certificate needs both certFile and keyFile' })
  }
  if (config.broker.url !== '' && !/^(mqtts?|wss?|tcp|ssl):\/\//.test(config.broker.url)) {
    problems.push({ path: ['broker', 'url'], message: `expected a URL starting mqtt://, mqtts://, ws:// or wss://, got "${config.broker.url}"` })
  }
  return problems
}
