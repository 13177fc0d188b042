import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { IotlessError, type ErrorCode } from '../errors.js'
import { redactUrl } from '../redact.js'
import { configSchema, functionSchema, routeSchema, targetSchema, type Config } from './schema.js'
import { checkRouteTargets } from './checkRouteTargets.js'
import { applyEnvOverrides, envLeaves, type SchemaNode } from './envOverrides.js'
import { applyOtelEnv } from './otelEnv.js'
import { formatIssues, formatPath } from './formatIssues.js'

export const DEFAULT_CONFIG_FILE = 'iotless.yaml'

/**
 * Variables read elsewhere that start with IOTLESS_ but are not config fields: the config file's path, and
 * IOTLESS_DEBUG (cli/reportError.ts prints the stack of an unexpected error when it is 1).
 */
/**
 * IOTLESS_* variables that are not config overrides: the loader's own, and those other iotless commands read
 * (`fn serve`, `proxy`), so that one environment can hold them all without `iotless up` refusing them as unknown.
 * test/core/reservedEnv.test.ts checks the proxy's and fn serve's names are all here.
 */
export const RESERVED_ENV: ReadonlySet<string> = new Set([
  'IOTLESS_CONFIG', 'IOTLESS_DEBUG',
  'IOTLESS_FN_MODE', 'IOTLESS_FN_NAME', 'IOTLESS_FN_CONFIG', 'IOTLESS_EFFECTS_URL', 'IOTLESS_EFFECTS_LOG_MAX_AGE_MS',
  'IOTLESS_PROXY_ADMIN_PORT', 'IOTLESS_PROXY_STATS_PORT', 'IOTLESS_PROXY_USER_METRICS_PORT', 'IOTLESS_PROXY_BIND_HOST',
  'IOTLESS_PROXY_USER_HOST', 'IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS', 'IOTLESS_PROXY_UPGRADE_GRACE_MS',
  'IOTLESS_PROXY_DRAIN_RESET_MS', 'IOTLESS_PROXY_MAX_HEADER_BYTES', 'IOTLESS_PROXY_HEADER_TIMEOUT_MS',
  'IOTLESS_PROXY_KEEPALIVE_IDLE_MS', 'IOTLESS_PROXY_UPSTREAM_IDLE_MS', 'IOTLESS_PROXY_H2_PING_MS', 'IOTLESS_PROXY_H2_ENGINE',
  'IOTLESS_PROXY_CERT_DIR', 'IOTLESS_PROXY_CERT_RELOAD_MS', 'IOTLESS_PROXY_MULTI_ACCEPT',
  // Read by `npm run build` (proxy/native/buildNative.ts), not at run time.
  'IOTLESS_SKIP_NATIVE'
])

/**
 * One problem with the config: the field's path and what is wrong. `code` is the specific stable code when the
 * check has one (TARGET_URL_INVALID, SIM_INVALID_PARAM, ...); the whole report is CONFIG_INVALID either way.
 */
export interface ConfigProblem { path: ReadonlyArray<PropertyKey>; message: string; code?: ErrorCode }

export interface LoadedConfig {
  config: Readonly<Config>
  /** The absolute path of the file read, or undefined when none was. */
  file: string | undefined
  /** Folder that relative paths in the config resolve against. */
  baseDir: string
  /** IOTLESS_* variables that overrode the file. */
  envApplied: string[]
  /** IOTLESS_* variables taken for Kubernetes service links and ignored (envOverrides.ts isServiceLink). */
  envIgnored: string[]
}

export interface LoadConfigOptions {
  /** Path given with -c. Without it, iotless.yaml in cwd. */
  file?: string | undefined
  cwd?: string
  env?: NodeJS.ProcessEnv
  /**
   * Checks that need component code (route filters, reply templates, target URLs, policy parameters). They run
   * in the same pass as the schema: when some fields fail it, on the sections that passed (see partialConfig),
   * so every problem is reported at once.
   */
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
 * Every problem is reported at once, one line each, with the field path and what was expected: the schema's
 * issues and the cross-field checks together, in one pass.
 */
export function loadConfig (opts: LoadConfigOptions = {}): LoadedConfig {
  const cwd = opts.cwd ?? process.cwd()
  const env = opts.env ?? process.env
  const given = opts.file ?? env.IOTLESS_CONFIG
  const file = resolve(cwd, given ?? DEFAULT_CONFIG_FILE)
  const raw = readRaw(file, given !== undefined)
  const otelApplied = applyOtelEnv(raw, env)
  const { applied: overridden, ignored: envIgnored } = applyEnvOverrides(raw, env, envLeaves(configJsonSchema()), RESERVED_ENV)
  const envApplied = [...otelApplied, ...overridden]

  const result = configSchema.safeParse(raw)
  const lines = result.success ? [] : formatIssues(result.error.issues, knownKeysAt)
  const codes: Array<ErrorCode | undefined> = lines.map(() => undefined)
  // On a schema failure the cross-field checks still run, on what did validate, so one pass reports everything.
  const partial = result.success ? { config: result.data, names: namesOf(result.data) } : partialConfig(raw)
  const cfg = partial.config
  // A route with `targets` is checked by checkRouteTargets alone (its `target` is only the default).
  const multiTier = (p: ConfigProblem | undefined): boolean => p !== undefined && p.path[0] === 'routes' && cfg.routes[p.path[1] as number]?.targets !== undefined
  const problems: Array<ConfigProblem | undefined> = [...checkReferences(cfg, partial.names).filter((p) => !multiTier(p)), ...checkRouteTargets(cfg, raw), ...(opts.check?.(cfg, dirname(file)) ?? [])]
  for (const p of problems) {
    if (p === undefined) continue // a check that mapped over the sparse routes of partialConfig
    lines.push(`${formatPath(p.path)}: ${p.message}${p.code === undefined || p.code === 'CONFIG_INVALID' ? '' : ` [${p.code}]`}`)
    codes.push(p.code)
  }
  if (lines.length > 0) {
    throw new IotlessError('CONFIG_INVALID', `${file} is invalid:\n  ${lines.join('\n  ')}`, {
      details: { problems: lines, codes: codes.map((c) => c ?? 'CONFIG_INVALID') }
    })
  }
  if (!result.success) throw new Error('unreachable: a failed parse always has issues')
  return { config: deepFreeze(result.data), file, baseDir: dirname(file), envApplied, envIgnored }
}

interface Names { functions: ReadonlySet<string>; targets: ReadonlySet<string> }

function namesOf (config: Config): Names {
  return { functions: new Set(Object.keys(config.functions)), targets: new Set(Object.keys(config.targets)) }
}

function rawRecord (value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? value as Record<string, unknown> : {}
}

/**
 * The config as far as it validates, for the cross-field checks when the whole does not: each section is
 * parsed on its own, and one that fails takes its defaults (which no check can object to). A route that fails
 * leaves a hole in `routes` (a sparse array: forEach and map skip it, and the others keep their index, so their
 * paths stay right); a function or target entry that fails is left out, but its name still counts as defined,
 * so a route naming it is not reported a second time.
 */
export function partialConfig (raw: Record<string, unknown>): { config: Config; names: Names } {
  const shape = configSchema.shape
  const section = <K extends keyof typeof shape>(key: K): z.output<typeof shape[K]> => {
    const r = shape[key].safeParse(raw[key])
    return (r.success ? r.data : shape[key].parse(undefined)) as z.output<typeof shape[K]>
  }
  const routes: Config['routes'] = []
  if (Array.isArray(raw.routes)) {
    routes.length = raw.routes.length
    raw.routes.forEach((r: unknown, i) => {
      const parsed = routeSchema.safeParse(r)
      if (parsed.success) routes[i] = parsed.data
    })
  }
  const functions: Config['functions'] = {}
  const functionNames = new Set<string>()
  for (const [name, fn] of Object.entries(rawRecord(raw.functions))) {
    functionNames.add(name)
    const parsed = functionSchema.safeParse(fn)
    if (parsed.success) functions[name] = parsed.data
  }
  const targets: Config['targets'] = {}
  const targetNames = new Set<string>()
  for (const [name, t] of Object.entries(rawRecord(raw.targets))) {
    targetNames.add(name)
    const parsed = targetSchema.safeParse(t)
    if (parsed.success) targets[name] = parsed.data
  }
  const config: Config = {
    broker: section('broker'),
    adapter: section('adapter'),
    metrics: section('metrics'),
    log: section('log'),
    prefetch: section('prefetch'),
    capacity: section('capacity'),
    tracing: section('tracing'),
    routes,
    targets,
    functions
  }
  return { config, names: { functions: functionNames, targets: targetNames } }
}

function checkReferences (config: Config, names: Names): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const functionList = [...names.functions]
  const targetList = [...names.targets]
  config.routes.forEach((route, i) => {
    if (route.target !== 'local') {
      if (!names.targets.has(route.target)) {
        problems.push({
          path: ['routes', i, 'target'],
          message: `no target named "${route.target}" under targets (defined: local${targetList.map((n) => `, ${n}`).join('')})`
        })
      }
      return
    }
    if (!names.functions.has(route.function)) {
      problems.push({
        path: ['routes', i, 'function'],
        message: `no function named "${route.function}" under functions (defined: ${functionList.length === 0 ? 'none' : functionList.join(', ')})`
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
    problems.push({ path: ['broker', 'url'], message: `expected a URL starting mqtt://, mqtts://, ws:// or wss://, got "${redactUrl(config.broker.url)}"` })
  }
  return problems
}
