import { homedir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../core/clock.js'
import { IotlessError } from '../core/errors.js'
import { Lifecycle } from '../core/lifecycle.js'
import { createLogger, type Logger } from '../core/log.js'
import type { Command } from './command.js'
import { numberFlag } from './numberFlag.js'
import { parseOptions } from './parseOptions.js'
import { parseParamFlags } from './sim.js'
import type { Actuator } from '../prefetch/actuators/actuator.js'
import type { KubeApi } from '../prefetch/actuators/kubeApi.js'
import { clientNodeInstalled, clientNodeSupported, loadClientNodeKubeApi } from '../prefetch/actuators/clientNodeKubeApi.js'
import { LivePrefetcher } from '../prefetch/live/livePrefetcher.js'
import { MetricsArrivalSource } from '../prefetch/live/metricsArrivalSource.js'
import { createPolicy, POLICIES } from '../prefetch/policies/policies.js'

const usage = `Usage: iotless prefetch --metrics-url URL --actuator knative|openwhisk [options]

Runs prefetch as its own process: once a minute it scrapes the adapter's /metrics (iotless_invocations_total per
function), runs the policy, and pre-warms the functions on Knative (min-scale) or OpenWhisk (warm-up invocations).
On SIGINT/SIGTERM it stops and puts every min-scale it changed back.

Options:
  --metrics-url URL          the adapter's Prometheus endpoint, e.g. http://127.0.0.1:9464/metrics (required);
                             repeat it for several adapter replicas: their arrivals are added up
  --actuator A               knative | openwhisk (required)
  --policy NAME              ${POLICIES.map((p) => p.name).join('|')} (default iotless)
  --param k=v                a policy parameter; repeatable (iotless sim --help lists them)
  --functions a,b            functions to decide on from the start (others join when they first show up in /metrics)
  --minute-ms N              real ms per policy minute (default 60000)
  --lead-ms N                pre-warm this many ms before the minute (default 15000; Knative pods take seconds)
  --log-level L              fatal|error|warn|info|debug|trace|silent (default info)

Knative:
  --namespace NS             namespace of the Knative Services (default: the kubeconfig context's, else default)
  --kubeconfig FILE          default $KUBECONFIG, else ~/.kube/config; ignored with --in-cluster
  --context NAME             kubeconfig context (default: current-context)
  --in-cluster               use the pod's ServiceAccount (KUBERNETES_SERVICE_HOST and the mounted token)
  --knative-version V        skip detection, e.g. 1.21 (>= 1.21 patches the Revision, <= 1.20 the PodAutoscaler)
  --min-patch-interval-ms N  at most one patch per function per N ms (default 30000)
  --max-min-scale N          highest min-scale set (default 10)
  --kube-client C            rest | client-node (default: client-node on Node >= 22.19 where
                             @kubernetes/client-node is installed, else rest)

OpenWhisk:
  --apihost URL              controller, e.g. https://openwhisk.example.com (default $__OW_API_HOST)
  --auth UUID:KEY            API key (default $__OW_API_KEY)
  --ow-namespace NS          namespace (default $__OW_NAMESPACE, else _)
  --insecure                 do not check the controller's TLS certificate
  --refresh-ms N             re-send warm-ups this often while wanted (default 300000)`

export interface PrefetchCliOptions {
  /** One per adapter replica; arrivals are summed. */
  metricsUrls: string[]
  actuator: 'knative' | 'openwhisk'
  policy: string
  params: Record<string, string>
  functions: string[]
  minuteMs: number
  leadMs: number
  logLevel: string
  knative: { namespace: string | undefined; kubeconfig: string; context: string | undefined; inCluster: boolean; knativeVersion: string | undefined; minPatchIntervalMs: number; maxMinScale: number; kubeClient: 'rest' | 'client-node' }
  openwhisk: { apihost: string | undefined; auth: string | undefined; namespace: string | undefined; insecure: boolean; refreshMs: number }
}

function bad (field: string, message: string): IotlessError {
  return new IotlessError('CLI_USAGE', `${field}: ${message}\n\n${usage}`)
}

function int (field: string, raw: string | undefined, fallback: number, min: number): number {
  return numberFlag(field, raw, fallback, { min, integer: true }, usage)
}

/** Reads and checks the options; every problem names its option. `env` is the CLI edge's environment. */
export function parsePrefetchOptions (argv: string[], env: NodeJS.ProcessEnv): PrefetchCliOptions {
  const { values: v } = parseOptions(argv, {
    'metrics-url': { type: 'string', multiple: true },
    actuator: { type: 'string' },
    policy: { type: 'string' },
    param: { type: 'string', multiple: true },
    functions: { type: 'string' },
    'minute-ms': { type: 'string' },
    'lead-ms': { type: 'string' },
    'log-level': { type: 'string' },
    namespace: { type: 'string' },
    kubeconfig: { type: 'string' },
    context: { type: 'string' },
    'in-cluster': { type: 'boolean' },
    'knative-version': { type: 'string' },
    'min-patch-interval-ms': { type: 'string' },
    'max-min-scale': { type: 'string' },
    'kube-client': { type: 'string' },
    apihost: { type: 'string' },
    auth: { type: 'string' },
    'ow-namespace': { type: 'string' },
    insecure: { type: 'boolean' },
    'refresh-ms': { type: 'string' }
  }, usage)
  const metricsUrls = v['metrics-url'] ?? []
  if (metricsUrls.length === 0) throw bad('--metrics-url', 'required (the adapter\'s /metrics, e.g. http://127.0.0.1:9464/metrics)')
  for (const metricsUrl of metricsUrls) {
    let u: URL
    try { u = new URL(metricsUrl) } catch { throw bad('--metrics-url', `not a URL: ${JSON.stringify(metricsUrl)}`) }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad('--metrics-url', `expected http:// or https://, got ${u.protocol}`)
  }
  const actuator = v.actuator
  if (actuator !== 'knative' && actuator !== 'openwhisk') throw bad('--actuator', `expected knative or openwhisk, got ${JSON.stringify(actuator ?? '(none)')}`)
  const policy = v.policy ?? 'iotless'
  if (!POLICIES.some((p) => p.name === policy)) throw bad('--policy', `expected one of ${POLICIES.map((p) => p.name).join(', ')}, got ${JSON.stringify(policy)}`)
  const minuteMs = int('--minute-ms', v['minute-ms'], 60_000, 1)
  const kubeClient = v['kube-client'] ?? (clientNodeSupported() && clientNodeInstalled() ? 'client-node' : 'rest')
  if (kubeClient !== 'rest' && kubeClient !== 'client-node') throw bad('--kube-client', `expected rest or client-node, got ${JSON.stringify(kubeClient)}`)
  if (kubeClient === 'client-node' && !clientNodeSupported()) throw bad('--kube-client', `client-node needs Node >= 22.19 (this is ${process.versions.node}); use rest`)
  if (kubeClient === 'client-node' && !clientNodeInstalled()) throw bad('--kube-client', 'client-node needs the optional dependency @kubernetes/client-node (npm install @kubernetes/client-node); or use rest')
  const opts: PrefetchCliOptions = {
    metricsUrls,
    actuator,
    policy,
    params: parseParamFlags(v.param ?? []),
    functions: (v.functions ?? '').split(',').map((s) => s.trim()).filter((s) => s !== ''),
    minuteMs,
    leadMs: Math.min(int('--lead-ms', v['lead-ms'], 15_000, 0), minuteMs),
    logLevel: v['log-level'] ?? 'info',
    knative: {
      namespace: v.namespace,
      kubeconfig: v.kubeconfig ?? env.KUBECONFIG?.split(':')[0] ?? join(homedir(), '.kube', 'config'),
      context: v.context,
      inCluster: v['in-cluster'] === true,
      knativeVersion: v['knative-version'],
      minPatchIntervalMs: int('--min-patch-interval-ms', v['min-patch-interval-ms'], 30_000, 1),
      maxMinScale: int('--max-min-scale', v['max-min-scale'], 10, 1),
      kubeClient
    },
    openwhisk: {
      apihost: v.apihost ?? env.__OW_API_HOST,
      auth: v.auth ?? env.__OW_API_KEY,
      namespace: v['ow-namespace'] ?? env.__OW_NAMESPACE,
      insecure: v.insecure === true,
      refreshMs: int('--refresh-ms', v['refresh-ms'], 300_000, 1)
    }
  }
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(opts.logLevel)) throw bad('--log-level', `unknown level ${JSON.stringify(opts.logLevel)}`)
  if (actuator === 'openwhisk') {
    if (opts.openwhisk.apihost === undefined || opts.openwhisk.apihost === '') throw bad('--apihost', 'required for --actuator openwhisk (or set __OW_API_HOST)')
    if (opts.openwhisk.auth === undefined || !/^[^:]+:.+$/.test(opts.openwhisk.auth)) throw bad('--auth', 'required for --actuator openwhisk, as UUID:KEY (or set __OW_API_KEY)')
  }
  if (opts.knative.knativeVersion !== undefined && !/\d+\.\d+/.test(opts.knative.knativeVersion)) throw bad('--knative-version', `expected a version like 1.21, got ${JSON.stringify(opts.knative.knativeVersion)}`)
  return opts
}

async function makeActuator (o: PrefetchCliOptions, env: NodeJS.ProcessEnv, log: Logger): Promise<{ actuator: Actuator; close: () => Promise<void> }> {
  // Loaded here, not at the top, so other commands do not pay for the clients.
  if (o.actuator === 'openwhisk') {
    const { default: openwhisk } = await import('openwhisk')
    const { OpenWhiskActuator } = await import('../prefetch/actuators/openwhiskActuator.js')
    const client = openwhisk({
      apihost: o.openwhisk.apihost,
      api_key: o.openwhisk.auth,
      ignore_certs: o.openwhisk.insecure,
      ...(o.openwhisk.namespace === undefined ? {} : { namespace: o.openwhisk.namespace })
    })
    return { actuator: new OpenWhiskActuator({ client, clock: systemClock, log, refreshMs: o.openwhisk.refreshMs }), close: async () => undefined }
  }
  const { KnativeActuator } = await import('../prefetch/actuators/knativeActuator.js')
  const { RestKubeApi, connectionFromKubeconfig, inClusterConnection } = await import('../prefetch/actuators/kubeApi.js')
  const k = o.knative
  const conn = k.inCluster ? inClusterConnection(env) : connectionFromKubeconfig(k.kubeconfig, k.context)
  let api: KubeApi
  let close = async (): Promise<void> => undefined
  if (k.kubeClient === 'client-node') {
    api = await loadClientNodeKubeApi(k.inCluster ? { kubeconfig: undefined } : { kubeconfig: k.kubeconfig, context: k.context })
  } else {
    const rest = new RestKubeApi(conn)
    api = rest
    close = () => rest.close()
  }
  const namespace = k.namespace ?? conn.namespace ?? 'default'
  log.info({ namespace, kubeClient: api.kind, server: conn.server }, 'prefetch: Knative actuator')
  const actuator = new KnativeActuator({
    api,
    namespace,
    clock: systemClock,
    log,
    minPatchIntervalMs: k.minPatchIntervalMs,
    maxMinScale: k.maxMinScale,
    ...(k.knativeVersion === undefined ? {} : { knativeVersion: k.knativeVersion })
  })
  if (k.knativeVersion === undefined) {
    const version = await actuator.version()
    log.info({ version: version.raw, from: version.from }, 'prefetch: Knative Serving version')
  }
  return { actuator, close }
}

export const prefetchCommand: Command = {
  name: 'prefetch',
  summary: 'pre-warm functions on Knative or OpenWhisk from the adapter\'s /metrics (own process)',
  usage,
  async run (argv) {
    const o = parsePrefetchOptions(argv, process.env)
    const log = createLogger({ level: o.logLevel })
    const policy = createPolicy(o.policy, o.params)
    const { actuator, close } = await makeActuator(o, process.env, log)
    // The source reports into the prefetcher, which collects from the source before each minute.
    // One source per adapter replica: each keeps its own counters, and their increases add up.
    const sources: MetricsArrivalSource[] = o.metricsUrls.map((url) => new MetricsArrivalSource(url, (fn, n) => prefetcher.record(fn, n)))
    const prefetcher: LivePrefetcher = new LivePrefetcher({
      policy,
      actuator,
      clock: systemClock,
      log,
      functions: o.functions,
      minuteMs: o.minuteMs,
      leadMs: o.leadMs,
      collect: async (record) => { await Promise.all(sources.map((source) => source.collect(record))) }
    })
    await Promise.all(sources.map((source) => source.collect())) // the baseline; fails early on a wrong URL
    const lifecycle = new Lifecycle(log)
    lifecycle.add('kube client', close)
    lifecycle.add('prefetcher', () => prefetcher.stop())
    prefetcher.start()
    lifecycle.handleSignals()
    // Timers are unref'd: keep the process alive until a signal.
    setInterval(() => undefined, 1 << 30)
    log.info({ policy: policy.name, actuator: actuator.kind, metrics: o.metricsUrls, minuteMs: o.minuteMs, leadMs: o.leadMs }, 'iotless prefetch is running')
    return await new Promise<number>(() => undefined)
  }
}
