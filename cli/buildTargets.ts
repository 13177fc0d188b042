import { resolve } from 'node:path'
import type { Config } from '../core/config/schema.js'
import { readSecret } from '../core/readSecret.js'
import { KnativeTarget } from '../adapters/targets/knativeTarget.js'
import { OpenWhiskTarget } from '../adapters/targets/openwhiskTarget.js'
import { readConfigFile } from './readConfigFile.js'
import { parseSinkEnv } from '../adapters/targets/sinkEnv.js'
import { SinkTarget } from '../adapters/targets/sinkTarget.js'
import type { Target } from '../adapters/target.js'
import { systemClock, type Clock } from '../core/clock.js'
import type { Logger } from '../core/log.js'
import type { Metrics } from '../core/metrics.js'
import { PlacementTarget, type PlacementRecord, type Tier } from '../adapters/placement/placementTarget.js'
import { placementTargetName } from '../adapters/placement/placementTargetName.js'
import { LinkQueue, linkedTarget } from '../adapters/placement/linkQueue.js'

/** routes[].explore when unset (docs/config.md). */
export const DEFAULT_EXPLORE = 0.02

/** What the PlacementTargets of multi-tier routes are given. */
export interface PlacementDeps {
  clock: Clock
  random?: () => number
  metrics?: Metrics | undefined
  log?: Logger | undefined
  /** Each tier tried (tracing: the attempt's span gets it, core/tracing/attemptSpans.ts). */
  onDecision?: ((r: PlacementRecord) => void) | undefined
}


/**
 * The targets routes can name: `local` (the embedded pool) and every entry under `targets`. Secrets and
 * the Knative Eventing variables are read here, at the CLI edge, from `env`.
 */
export function buildTargets (config: Readonly<Config>, baseDir: string, env: NodeJS.ProcessEnv, local: Target, placement: PlacementDeps = { clock: systemClock }): Map<string, Target> {
  const targets = new Map<string, Target>([['local', local]])
  const used = new Set(config.routes.flatMap((r) => r.targets ?? [r.target]))
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
          traceContext: t.traceContext,
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
  addPlacementTargets(config, targets, placement)
  return targets
}

/**
 * One PlacementTarget per route with `targets` (docs/placement.md), over the targets built above. A tier's
 * slots: the local pool's concurrency x maxScale, a remote target's connections (OpenWhisk: 64).
 */
function addPlacementTargets (config: Readonly<Config>, targets: Map<string, Target>, deps: PlacementDeps): void {
  // A remote target a placement uses gets one LinkQueue, and every request sent to it (from any route) is noted
  // there: placement predicts the wait behind the bytes already on the way (docs/placement.md).
  const links = new Map<string, LinkQueue>()
  for (const route of config.routes) {
    for (const name of route.targets ?? []) {
      if (name === 'local' || links.has(name)) continue
      const link = new LinkQueue(() => performance.now())
      links.set(name, link)
      targets.set(name, linkedTarget(targets.get(name) as Target, link))
    }
  }
  config.routes.forEach((route, index) => {
    if (route.targets === undefined) return
    const tiers: Tier[] = route.targets.map((name) => {
      const target = targets.get(name) as Target
      if (name === 'local') {
        const fn = config.functions[route.function]
        return { name, target, slots: (fn?.concurrency ?? 1) * (fn?.maxScale ?? 1), perInstance: fn?.concurrency ?? 1 }
      }
      const t = config.targets[name]
      return { name, target, slots: t !== undefined && t.kind !== 'openwhisk' ? t.connections : 64, link: links.get(name) }
    })
    targets.set(placementTargetName(index, route.targets), new PlacementTarget({
      label: `routes[${index}]`,
      tiers,
      mode: route.placement ?? 'fastest',
      explore: route.explore ?? DEFAULT_EXPLORE,
      clock: deps.clock,
      now: () => performance.now(),
      random: deps.random ?? Math.random,
      metrics: deps.metrics,
      log: deps.log,
      onDecision: deps.onDecision
    }))
  })
}

/** Closes every target but the local pool (the stack closes that itself, after the adapter); placements own nothing. */
export async function closeRemoteTargets (targets: ReadonlyMap<string, Target>): Promise<void> {
  await Promise.all([...targets].filter(([name]) => name !== 'local').map(([, t]) => t.close()))
}
