import { readFileSync } from 'node:fs'
import openwhisk from 'openwhisk'
import { loadConfig } from '../core/config/loadConfig.js'
import type { FunctionConfig } from '../core/config/schema.js'
import { IotlessError } from '../core/errors.js'
import type { Command } from './command.js'
import { parseOptions } from './parseOptions.js'

const DEFAULT_IMAGE = 'registry.example.com/iotless-openwhisk:0.1.0'
const BUILTIN = /^[a-z0-9][a-z0-9-]*$/
/** OpenWhisk's default action limits (application.conf): time 100 ms..5 min, memory 128..512 MB. */
const TIMEOUT_MIN_MS = 100
const TIMEOUT_MAX_MS = 300_000

const usage = `Usage: iotless openwhisk deploy [options] [FUNCTION...]

Creates or updates one OpenWhisk action per function of the config file (or only the FUNCTIONs named):
a docker (blackbox) action running the iotless image built with
  docker build -f k8s/Dockerfile --target openwhisk .
whose command is \`iotless fn serve --mode openwhisk\`; the action's main names the function's module.
Each action is sent as PUT /api/v1/namespaces/<ns>/actions/<name>?overwrite=true.

Options:
  -c, --config FILE      config file (default: iotless.yaml in the current folder, or $IOTLESS_CONFIG)
      --apihost URL      OpenWhisk API host (default: $__OW_API_HOST); no scheme means https://
  -n, --namespace NS     namespace (default: $__OW_NAMESPACE, else "_", the key's own namespace)
      --auth-file FILE   file holding the key "<uuid>:<key>" (default: the key in $__OW_API_KEY)
      --image IMAGE      action image (default: ${DEFAULT_IMAGE})
      --memory MB        memory limit of each action (default: 256)
      --insecure         do not verify the controller's TLS certificate (self-signed dev setups)
      --dry-run          print the action bodies as JSON lines and send nothing
  -h, --help             show this help

The key is never read from the config file and never printed.
Limits: timeout = functions.<name>.timeoutMs (clamped to 100..300000 ms), concurrency =
functions.<name>.concurrency (OpenWhisk allows more than 1 only if its concurrency limit was raised).
functions.<name>.config is passed as the init parameter IOTLESS_FUNCTION_CONFIG (JSON).`

export interface ActionKeyVal { key: string; value: unknown; init?: boolean }

/** The body of PUT .../actions/<name>: what OpenWhisk stores for one function. */
export interface ActionBody {
  exec: { kind: 'blackbox'; image: string; main: string }
  parameters: ActionKeyVal[]
  annotations: ActionKeyVal[]
  limits: { timeout: number; memory: number; concurrency: number }
}

export interface ActionOptions { image: string; memoryMb: number }

export function buildActionBody (name: string, fn: Pick<FunctionConfig, 'module' | 'timeoutMs' | 'concurrency' | 'config'>, opts: ActionOptions): ActionBody {
  if (!BUILTIN.test(fn.module)) {
    throw new IotlessError('CONFIG_INVALID', `functions.${name}.module: "${fn.module}" is a file path; an OpenWhisk docker action runs the functions built into its image. Build an image FROM the iotless image with your module added, and name it in the config as a built-in, or deploy it yourself`)
  }
  return {
    exec: { kind: 'blackbox', image: opts.image, main: fn.module },
    // init: true parameters reach the container's /init as environment variables, not every invocation.
    parameters: [{ key: 'IOTLESS_FUNCTION_CONFIG', value: JSON.stringify(fn.config), init: true }],
    annotations: [{ key: 'iotless-function', value: name }, { key: 'iotless-module', value: fn.module }],
    limits: {
      timeout: Math.min(TIMEOUT_MAX_MS, Math.max(TIMEOUT_MIN_MS, fn.timeoutMs)),
      memory: opts.memoryMb,
      concurrency: fn.concurrency
    }
  }
}

/** The key: from --auth-file, else $__OW_API_KEY. Checked for shape, never echoed. */
function readKey (authFile: string | undefined, env: NodeJS.ProcessEnv): string {
  let key: string | undefined
  if (authFile !== undefined) {
    try {
      key = readFileSync(authFile, 'utf8').trim()
    } catch (err) {
      throw new IotlessError('CLI_USAGE', `--auth-file ${authFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
    }
  } else {
    key = env.__OW_API_KEY?.trim()
  }
  if (key === undefined || key === '') {
    throw new IotlessError('CLI_USAGE', `no OpenWhisk key: set __OW_API_KEY or pass --auth-file FILE (the key is never read from the config file)\n\n${usage}`)
  }
  if (!/^[^:\s]+:[^:\s]+$/.test(key)) {
    throw new IotlessError('CLI_USAGE', `the OpenWhisk key${authFile === undefined ? ' in __OW_API_KEY' : ` in ${authFile}`} is not of the form <uuid>:<key>`)
  }
  return key
}

interface OpenWhiskFailure { statusCode?: number; message?: string; error?: unknown }

function describeFailure (err: unknown): string {
  const e = err as OpenWhiskFailure
  const body = e.error
  const detail = typeof body === 'object' && body !== null && 'error' in body ? String((body as { error: unknown }).error) : (e.message ?? String(err))
  return e.statusCode === undefined ? detail : `HTTP ${e.statusCode}: ${detail}`
}

export const openwhiskDeployCommand: Command = {
  name: 'openwhisk',
  summary: 'openwhisk deploy: create or update the functions as OpenWhisk actions',
  usage,
  async run (argv) {
    const { values, positionals } = parseOptions(argv, {
      config: { type: 'string', short: 'c' },
      apihost: { type: 'string' },
      namespace: { type: 'string', short: 'n' },
      'auth-file': { type: 'string' },
      image: { type: 'string' },
      memory: { type: 'string' },
      insecure: { type: 'boolean' },
      'dry-run': { type: 'boolean' }
    }, usage, true)
    const [sub, ...only] = positionals
    if (sub !== 'deploy') throw new IotlessError('CLI_USAGE', `${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}\n\n${usage}`)
    const memoryMb = values.memory === undefined ? 256 : Number(values.memory)
    if (!Number.isInteger(memoryMb) || memoryMb < 1) throw new IotlessError('CLI_USAGE', `--memory ${values.memory ?? ''} is not a whole number of MB`)
    const loaded = loadConfig({ file: values.config })
    const functions = loaded.config.functions
    for (const name of only) {
      if (functions[name] === undefined) throw new IotlessError('CLI_USAGE', `no function "${name}" in ${loaded.file ?? 'the config'}; it has: ${Object.keys(functions).join(', ') || 'none'}`)
    }
    const names = only.length > 0 ? only : Object.keys(functions)
    const opts: ActionOptions = { image: values.image ?? DEFAULT_IMAGE, memoryMb }
    // Build (and check) every body before sending any, so a bad module stops the deploy before it starts.
    const bodies = names.map((name) => ({ name, body: buildActionBody(name, functions[name] as FunctionConfig, opts) }))
    const namespace = values.namespace ?? process.env.__OW_NAMESPACE ?? '_'
    if (values['dry-run'] === true) {
      for (const { name, body } of bodies) process.stdout.write(JSON.stringify({ namespace, name, action: body }) + '\n')
      return 0
    }
    const apihost = values.apihost ?? process.env.__OW_API_HOST
    if (apihost === undefined || apihost === '') throw new IotlessError('CLI_USAGE', `no OpenWhisk API host: pass --apihost URL or set __OW_API_HOST\n\n${usage}`)
    const key = readKey(values['auth-file'], process.env)
    const ow = openwhisk({ apihost, api_key: key, ignore_certs: values.insecure === true })
    for (const { name, body } of bodies) {
      try {
        // A full action object as `action` is sent as the body as it is; overwrite=true creates or updates.
        await ow.actions.create({ name, namespace, action: body as unknown as openwhisk.Action, overwrite: true })
      } catch (err) {
        throw new IotlessError('OPENWHISK_DEPLOY_FAILED', `action ${namespace}/${name} at ${apihost}: ${describeFailure(err)}`)
      }
      process.stdout.write(`deployed ${namespace}/${name}: image ${body.exec.image}, main ${body.exec.main}, timeout ${body.limits.timeout} ms, memory ${body.limits.memory} MB, concurrency ${body.limits.concurrency}\n`)
    }
    return 0
  }
}
