import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { repoRoot } from '../helpers/paths.js'
import { OPTIONAL_ENV, readProxyEnv, REQUIRED_ENV } from '../../proxy/env.js'
import { allRendered, podTemplates, render, type K8sObject } from './manifests.js'
import { effective, parseDockerfile } from './dockerfile.js'

/**
 * The slim proxy is not a Deployment of ours: Knative's revision reconciler runs it as the queue-proxy
 * sidecar of every revision pod, with the environment of makeQueueContainer (serving
 * pkg/reconciler/revision/resources/queue.go). So "the proxy manifest" is the config-deployment patch, and
 * what must match `iotless proxy` is (a) the keys and values of that patch, (b) the image's entrypoint,
 * and (c) the environment Knative derives from our Knative Services.
 */

/** config-deployment keys that pkg/deployment/config.go reads for the sidecar (contracts reference section 4). */
const SIDECAR_KEYS = new Set([
  'queue-sidecar-image',
  ...['cpu', 'memory', 'ephemeral-storage'].flatMap((r) => [`queue-sidecar-${r}-request`, `queue-sidecar-${r}-limit`]),
  'queue-sidecar-token-audiences', 'queue-sidecar-rootca'
])

/** A Kubernetes resource.Quantity, in base units, for the forms used here (m, Ki/Mi/Gi, k/M/G, plain). */
function quantity (q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q)
  if (m === null) throw new Error(`not a quantity: ${q}`)
  const mult: Record<string, number> = { '': 1, m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }
  return Number(m[1]) * (mult[m[2] ?? ''] as number)
}

function configDeployment (t: Test): Record<string, string> {
  const objects = render('knative-serving/queue-proxy')
  t.equal(objects.length, 1)
  const cm = objects[0] as K8sObject
  t.equal(cm.kind, 'ConfigMap')
  t.equal(cm.metadata.name, 'config-deployment')
  t.equal(cm.metadata.namespace, 'knative-serving')
  return cm.data as Record<string, string>
}

t.test('config-deployment patch: only sidecar keys Knative reads, a pinned-able image, sane resources', async (t) => {
  const data = configDeployment(t)
  for (const key of Object.keys(data)) t.ok(SIDECAR_KEYS.has(key), `${key} is a config-deployment sidecar key`)
  t.notOk('queueSidecarImage' in data, 'the deprecated camelCase key is not used (the new key wins anyway)')
  const image = data['queue-sidecar-image'] ?? ''
  t.match(image, /\/iotless-proxy(:[\w.-]+|@sha256:[0-9a-f]{64})$/, 'the image is the proxy target build')
  t.notMatch(image, /:latest$/, 'not a floating tag: Knative never resolves the sidecar tag')
  for (const r of ['cpu', 'memory']) {
    const req = data[`queue-sidecar-${r}-request`]
    const lim = data[`queue-sidecar-${r}-limit`]
    t.ok(req !== undefined && lim !== undefined, `${r} request and limit set`)
    t.ok(quantity(req ?? '0') <= quantity(lim ?? '0'), `${r} request <= limit`)
  }
  // docs/proxy.md: peak RSS about 60 MiB under load; the limit leaves headroom over that.
  t.ok(quantity(data['queue-sidecar-memory-limit'] ?? '0') >= 96 * 2 ** 20, 'memory limit leaves room over the measured ~60 MiB peak')
})

t.test('the proxy image target starts `iotless proxy` with no args, as Knative starts the sidecar', async (t) => {
  const { stages } = parseDockerfile('Dockerfile')
  const proxy = stages.find((s) => s.name === 'proxy')
  t.ok(proxy !== undefined)
  if (proxy === undefined) return
  t.equal(effective(stages, proxy, 'ENTRYPOINT'), '["node", "dist/cli/proxy.js"]')
  t.equal(effective(stages, proxy, 'CMD'), '[]')
})

/** The env makeQueueContainer injects for one revision of a Knative Service of ours. */
function queueEnv (svc: K8sObject): Record<string, string> {
  const spec = (svc.spec as { template: { spec: { containerConcurrency?: number; timeoutSeconds?: number; containers: Array<{ ports?: Array<{ containerPort: number }> }> } } }).template.spec
  const userPort = spec.containers[0]?.ports?.[0]?.containerPort ?? 8080
  const rev = `${svc.metadata.name}-00001`
  return {
    SERVING_NAMESPACE: svc.metadata.namespace ?? 'default',
    SERVING_SERVICE: svc.metadata.name,
    SERVING_CONFIGURATION: svc.metadata.name,
    SERVING_REVISION: rev,
    QUEUE_SERVING_PORT: '8012',
    QUEUE_SERVING_TLS_PORT: '8112',
    CONTAINER_CONCURRENCY: String(spec.containerConcurrency ?? 0),
    REVISION_TIMEOUT_SECONDS: String(spec.timeoutSeconds ?? 300),
    REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0',
    REVISION_IDLE_TIMEOUT_SECONDS: '0',
    SERVING_POD: `${rev}-deployment-abc12`,
    SERVING_POD_IP: '10.0.0.7',
    SERVING_LOGGING_CONFIG: '',
    SERVING_LOGGING_LEVEL: 'info',
    USER_PORT: String(userPort),
    SYSTEM_NAMESPACE: 'knative-serving',
    SERVING_READINESS_PROBE: JSON.stringify({ tcpSocket: { port: userPort, host: '127.0.0.1' }, successThreshold: 1 }),
    HOST_IP: '10.0.0.1',
    ENABLE_HTTP2_AUTO_DETECTION: 'false',
    ENABLE_HTTP_FULL_DUPLEX: 'false',
    ENABLE_MULTI_CONTAINER_PROBES: 'false'
  }
}

function knativeServices (): Array<{ dir: string; svc: K8sObject }> {
  return allRendered().filter(({ obj }) => obj.kind === 'Service' && obj.apiVersion.startsWith('serving.knative.dev/')).map(({ dir, obj }) => ({ dir, svc: obj }))
}

t.test('for every Knative Service, the env Knative injects is one `iotless proxy` accepts, and ports do not clash', async (t) => {
  const services = knativeServices()
  t.ok(services.length >= 7, `${services.length} Knative Services`)
  for (const { dir, svc } of services) {
    const env = queueEnv(svc)
    for (const name of REQUIRED_ENV) t.ok(env[name] !== undefined, `${name} is among what Knative injects`)
    for (const name of Object.keys(env)) t.ok((REQUIRED_ENV as readonly string[]).includes(name) || (OPTIONAL_ENV as readonly string[]).includes(name), `${name} is known to proxy/env.ts`)
    const cfg = readProxyEnv(env)
    const proxyPorts = [cfg.queueServingPort, 8013, cfg.queueServingTlsPort, cfg.adminPort, cfg.statsPort, cfg.userMetricsPort, 8008]
    t.notOk(proxyPorts.includes(cfg.userPort), `${dir}: ${svc.metadata.name} user port ${cfg.userPort} is free of the proxy's ${proxyPorts.join(', ')}`)
    t.ok(cfg.containerConcurrency >= 1, `${dir}: ${svc.metadata.name} has a breaker (containerConcurrency ${cfg.containerConcurrency})`)
    t.ok(cfg.revisionTimeoutMs > 0 && cfg.revisionTimeoutMs <= 600_000, `${dir}: ${svc.metadata.name} timeout within Knative's 600 s default maximum`)
    // The proxy's IOTLESS_PROXY_* variables are ours; Knative never sets them, so no manifest may rely on them.
    for (const tpl of podTemplates(svc)) for (const c of tpl.spec.containers ?? []) for (const e of c.env ?? []) t.notMatch(e.name, /^IOTLESS_PROXY_/)
  }
})

t.test('the proxy entry the image runs starts with that env, binds its ports, and drains on SIGTERM', async (t) => {
  const svc = render('base').find((o) => o.kind === 'Service' && o.metadata.name === 'temperature-alert') as K8sObject
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    ...queueEnv(svc),
    // Same env, with the fixed ports moved to free ones so the test can run anywhere.
    QUEUE_SERVING_PORT: '0',
    QUEUE_SERVING_TLS_PORT: '0',
    IOTLESS_PROXY_ADMIN_PORT: '0',
    IOTLESS_PROXY_STATS_PORT: '0',
    IOTLESS_PROXY_USER_METRICS_PORT: '0',
    IOTLESS_PROXY_BIND_HOST: '127.0.0.1',
    IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS: '0'
  }
  const child = spawn(process.execPath, [join(repoRoot, 'dist/cli/proxy.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const line = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const nl = out.indexOf('\n')
      if (nl >= 0) resolve(out.slice(0, nl))
    })
    child.once('exit', (code) => reject(new Error(`proxy exited ${code}: ${stderr}`)))
  })
  const started = JSON.parse(line) as { msg: string; ports: Record<string, number>; containerConcurrency: number }
  t.equal(started.msg, 'iotless proxy listening')
  t.equal(started.containerConcurrency, 50, 'containerConcurrency of the temperature-alert Service')
  // tls is null: no certificate is mounted in this pod spec, so no TLS port is opened; profiling is off by default.
  t.ok(Object.entries(started.ports as Record<string, number | null>).every(([k, p]) => k === 'tls' || k === 'profiling' ? p === null : typeof p === 'number' && p > 0), JSON.stringify(started.ports))
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c))
    child.kill('SIGTERM')
  })
  t.equal(code, 0, 'drains and exits 0')
})
