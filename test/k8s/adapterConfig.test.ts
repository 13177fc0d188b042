import t from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml, stringify } from 'yaml'
import { configJsonSchema, loadConfig, RESERVED_ENV } from '../../core/config/loadConfig.js'
import { envLeaves } from '../../core/config/envOverrides.js'
import { checkRoutes } from '../../adapters/mqtt/routeTable.js'
import { configMapFile, podTemplates, render, type Container, type K8sObject } from './manifests.js'

/**
 * The adapter config the manifests mount, checked with the real loader. Two parts are still being added by
 * the adapter targets issue and are set aside here until the merge (docs/adapter.md):
 * `targets:` / `routes[].target`, and broker.username / broker.password (set from the Secret as
 * IOTLESS_BROKER_USERNAME / _PASSWORD).
 */
const PENDING_TOP_KEYS = ['targets']
const PENDING_ROUTE_KEYS = ['target']
const PENDING_ENV = ['IOTLESS_BROKER_USERNAME', 'IOTLESS_BROKER_PASSWORD']

interface RawConfig {
  broker?: { protocol?: string; url?: string }
  metrics?: { host?: string; port?: number }
  adapter?: { shutdownGraceMs?: number }
  routes?: Array<Record<string, unknown> & { topic: string; target?: string; type?: string; reply?: string }>
  targets?: Record<string, { kind: string; url?: string }>
}

/** The config with the pending keys removed, so the current schema can judge everything else. */
function withoutPending (raw: RawConfig): Record<string, unknown> {
  const copy = structuredClone(raw) as Record<string, unknown> & RawConfig
  for (const k of PENDING_TOP_KEYS) delete copy[k]
  for (const r of copy.routes ?? []) for (const k of PENDING_ROUTE_KEYS) delete r[k]
  return copy
}

const CASES = [
  { dir: 'base', cm: 'iotless-config' },
  { dir: 'overlays/dev', cm: 'iotless-config' },
  { dir: 'overlays/gpu', cm: 'iotless-config' },
  { dir: 'overlays/eventing', cm: 'iotless-sink-config' },
  { dir: 'overlays/eventing-containersource', cm: 'iotless-sink-config' }
] as const

function adapterPod (objects: K8sObject[]): { obj: K8sObject; container: Container; grace: number | undefined } {
  const obj = objects.find((o) => (o.kind === 'Deployment' || o.kind === 'ContainerSource') && o.metadata.name === 'iotless-adapter')
  if (obj === undefined) throw new Error('no adapter')
  const tpl = podTemplates(obj)[0]
  const container = tpl?.spec.containers?.[0]
  if (tpl === undefined || container === undefined) throw new Error('no adapter container')
  return { obj, container, grace: tpl.spec.terminationGracePeriodSeconds as number | undefined }
}

t.test('the mounted iotless.yaml loads with the real config loader (pending keys set aside) and its routes compile', async (t) => {
  for (const { dir, cm } of CASES) {
    const objects = render(dir)
    const { container } = adapterPod(objects)
    const mounted = podTemplates(adapterPod(objects).obj)[0]?.spec.volumes?.find((v) => v.name === 'config')?.configMap?.name
    t.ok(mounted?.startsWith(cm), `${dir}: the adapter mounts ${cm} (${mounted ?? 'none'})`)
    const raw = parseYaml(configMapFile(objects, cm).text) as RawConfig
    const folder = mkdtempSync(join(tmpdir(), 'iotless-k8s-cfg-'))
    t.teardown(() => rmSync(folder, { recursive: true, force: true }))
    writeFileSync(join(folder, 'iotless.yaml'), stringify(withoutPending(raw)))
    // The literal IOTLESS_* values of the pod apply as overrides, as they will in the container.
    const env: Record<string, string> = {}
    for (const e of container.env ?? []) {
      if (!e.name.startsWith('IOTLESS_') || PENDING_ENV.includes(e.name) || RESERVED_ENV.has(e.name)) continue
      env[e.name] = e.value ?? (e.valueFrom?.fieldRef !== undefined ? 'iotless-adapter-7d9f-abcde' : '')
    }
    const loaded = loadConfig({ file: join(folder, 'iotless.yaml'), env })
    t.same(checkRoutes(loaded.config.routes), [], `${dir}: routes compile`)
    t.equal(loaded.config.broker.clientId, 'iotless-adapter-7d9f-abcde', `${dir}: the client id comes from the pod name`)
    if (dir === 'overlays/dev') t.equal(loaded.config.broker.url, 'mqtt://mosquitto.iotless.svc.cluster.local:1883', 'dev points at its Mosquitto')
  }
})

t.test('every route is a $share/iotless shared subscription over MQTT 5', async (t) => {
  for (const { dir, cm } of CASES) {
    const raw = parseYaml(configMapFile(render(dir), cm).text) as RawConfig
    t.equal(raw.broker?.protocol, '5', `${dir}: shared subscriptions need MQTT 5`)
    t.ok((raw.routes ?? []).length >= 2)
    for (const r of raw.routes ?? []) t.match(r.topic, /^\$share\/iotless\/[^#+]/, `${dir}: ${r.topic}`)
  }
})

t.test('targets: each route names a target; knative URLs are Knative Services of the same render', async (t) => {
  for (const { dir, cm } of CASES) {
    const objects = render(dir)
    const raw = parseYaml(configMapFile(objects, cm).text) as RawConfig
    for (const r of raw.routes ?? []) {
      const target = raw.targets?.[r.target ?? '']
      t.ok(target !== undefined, `${dir}: route ${r.topic} -> target ${r.target ?? '(none)'}`)
      if (target?.kind === 'knative') {
        const m = /^http:\/\/([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(target.url ?? '')
        t.ok(m !== null, `${dir}: ${target.url ?? ''} is a cluster-local Knative URL`)
        const svc = objects.find((o) => o.kind === 'Service' && o.apiVersion.startsWith('serving.knative.dev/') && o.metadata.name === m?.[1] && o.metadata.namespace === m?.[2])
        t.ok(svc !== undefined, `${dir}: Knative Service ${m?.[1] ?? '?'} exists in ${m?.[2] ?? '?'}`)
        t.equal(svc?.metadata.labels?.['networking.knative.dev/visibility'], 'cluster-local', `${dir}: ${m?.[1] ?? '?'} is not exposed outside the cluster`)
      }
    }
  }
})

t.test('eventing: routes go to the sink, and each route type has a Trigger to an existing Service', async (t) => {
  for (const dir of ['overlays/eventing', 'overlays/eventing-containersource']) {
    const objects = render(dir)
    const raw = parseYaml(configMapFile(objects, 'iotless-sink-config').text) as RawConfig
    t.same(Object.values(raw.targets ?? {}).map((x) => x.kind), ['sink'])
    const triggers = objects.filter((o) => o.kind === 'Trigger') as Array<K8sObject & { spec: { broker: string; filter: { attributes: { type: string } }; subscriber: { ref: { name: string } } } }>
    const broker = objects.find((o) => o.kind === 'Broker')
    for (const r of raw.routes ?? []) {
      const tr = triggers.find((x) => x.spec.filter.attributes.type === r.type)
      t.ok(tr !== undefined, `${dir}: a Trigger for type ${r.type ?? '(none)'}`)
      t.equal(tr?.spec.broker, broker?.metadata.name)
      t.ok(objects.some((o) => o.kind === 'Service' && o.metadata.name === tr?.spec.subscriber.ref.name), `${dir}: subscriber ${tr?.spec.subscriber.ref.name ?? '?'} exists`)
    }
  }
})

t.test('the adapter pod: replicas for shared subscriptions, env names the loader knows, metrics port, grace', async (t) => {
  const known = new Set([...envLeaves(configJsonSchema()).map((l) => l.env), ...RESERVED_ENV])
  for (const { dir, cm } of CASES) {
    const objects = render(dir)
    const { obj, container, grace } = adapterPod(objects)
    if (obj.kind === 'Deployment') t.ok(((obj.spec as { replicas?: number }).replicas ?? 1) >= 2, `${dir}: at least 2 replicas`)
    for (const e of container.env ?? []) {
      if (!e.name.startsWith('IOTLESS_')) continue
      if (PENDING_ENV.includes(e.name)) {
        if (!known.has(e.name)) t.comment(`${e.name}: pending (broker credentials of the adapter issue)`)
        continue
      }
      t.ok(known.has(e.name), `${dir}: ${e.name} is a config override the loader accepts`)
    }
    const raw = parseYaml(configMapFile(objects, cm).text) as RawConfig
    t.equal(raw.metrics?.host, '0.0.0.0', `${dir}: /metrics reachable from the pod network`)
    t.same(container.ports?.map((p) => p.containerPort), [raw.metrics?.port ?? 9464], `${dir}: the container port is metrics.port`)
    t.ok((grace ?? 30) * 1000 > (raw.adapter?.shutdownGraceMs ?? 30_000), `${dir}: terminationGracePeriodSeconds exceeds adapter.shutdownGraceMs`)
  }
})
