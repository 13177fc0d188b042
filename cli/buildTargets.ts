import { resolve } from 'node:path'
import type { Config } from '../core/config/schema.js'
import { readSecret } from '../core/readSecret.js'
import { KnativeTarget } from '../adapters/targets/knativeTarget.js'
import { OpenWhiskTarget } from '../adapters/targets/openwhiskTarget.js'
import { readConfigFile } from './readConfigFile.js'
import { parseSinkEnv } from '../adapters/targets/sinkEnv.js'
import { SinkTarget } from '../adapters/targets/sinkTarget.js'
import type { Target } from '../adapters/target.js'


/**
 * The targets routes can name: `local` (the embedded pool) and every entry under `targets`. Secrets and
 * the Knative Eventing variables are read here, at the CLI edge, from `env`.
 */
export function buildTargets (config: Readonly<Config>, baseDir: string, env: NodeJS.ProcessEnv, local: Target): Map<string, Target> {
  const targets = new Map<string, Target>([['local', local]])
  const used = new Set(config.routes.map((r) => r.target))
  for (const [name, t] of Object.entries(config.targets)) {
    // An unused sink needs no K_SINK: build only what routes use.
    if (!used.has(name)) continue
    switch (t.kind) {
      case 'knative':
        // The invocation limit is enforced as undici's headers and body timeouts: per-request timers that cost
        // far less than an AbortSignal.timeout per request (the whole-request deadline), which profiling showed.
        targets.set(name, new KnativeTarget({
          url: t.url,
          headersTimeoutMs: t.timeoutMs,
          bodyTimeoutMs: t.timeoutMs,
          connections: t.connections,
          ...(t.caFile === undefined ? {} : { ca: readConfigFile(t.caFile, baseDir, `targets.${name}.caFile`).toString('utf8') })
        }))
        break
      case 'sink': {
        const sinkEnv = parseSinkEnv(env)
        targets.set(name, new SinkTarget({ ...sinkEnv, headersTimeoutMs: t.timeoutMs, bodyTimeoutMs: t.timeoutMs, connections: t.connections }))
        break
      }
      case 'openwhisk': {
        // keyFile, when set, is read instead of keyEnv (config.md); never from the config file itself.
        const apiKey = readSecret(t.keyFile === undefined
          ? { env: t.keyEnv, label: `targets.${name}: OpenWhisk API key` }
          : { file: resolve(baseDir, t.keyFile), label: `targets.${name}: OpenWhisk API key` }, env)
        targets.set(name, new OpenWhiskTarget({ apiHost: t.apiHost, apiKey, namespace: t.namespace, blocking: t.blocking, ignoreCerts: t.ignoreCerts, timeoutMs: t.timeoutMs }))
        break
      }
    }
  }
  return targets
}

/** Closes every target but the local pool (the stack closes that itself, after the adapter). */
export async function closeRemoteTargets (targets: ReadonlyMap<string, Target>): Promise<void> {
  await Promise.all([...targets].filter(([name]) => name !== 'local').map(([, t]) => t.close()))
}
