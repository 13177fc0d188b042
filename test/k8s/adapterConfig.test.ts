import t, { type Test } from 'tap'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { configJsonSchema, loadConfig, RESERVED_ENV } from '../../core/config/loadConfig.js'
import { envLeaves } from '../../core/config/envOverrides.js'
import { checkRoutes } from '../../adapters/ingress/routeTable.js'
import { readBrokerSecurity } from '../../cli/brokerSecurity.js'
import { allRendered, configMapFile, podTemplates, render, type Container, type K8sObject } from './manifests.js'

/** The adapter config the manifests mount, checked as it is with the real loader (core/config). */
interface RawConfig {
  broker?: { protocol?: string; url?: string; passwordEnv?: string; sessionExpirySeconds?: number }
  metrics?: { host?: string; port?: number }
  adapter?: { shutdownGraceMs?: number }
  routes?: Array<Record<string, unknown> & { topic: string; target?: string; type?: string; reply?: string }>
  targets?: Record<string, { kind: string; url?: string }>
}

const CASES = [
  { dir: 'base', cm: 'iotless-config' },
  { dir: 'overlays/dev', cm: 'iotless-config' },
  { dir: 'overlays/gpu', cm: 'iotless-config' },
  { dir: 'overlays/eventing', cm: 'iotless-sink-config' },
  { dir: 'overlays/eventing-containersource', cm: 'iotless-sink-config' }
] as const

function adapterPod (objects: K8sObject[]): { obj: K8sObject; container: Container; grace: number | undefined } {
  const obj = objects.find((o) => (o.kind === 'StatefulSet' || o.kind === 'ContainerSource') && o.metadata.name === 'iotless-adapter')
  if (obj === undefined) throw new Error('no adapter')
  const tpl = podTemplates(obj)[0]
  const container = tpl?.spec.containers?.[0]
  if (tpl === undefined || container === undefined) throw new Error('no adapter container')
  return { obj, container, grace: tpl.spec.terminationGracePeriodSeconds as number | undefined }
}

/** A stand-in for the pod name the downward API gives: stable for a StatefulSet, random for a Deployment. */
function podName (obj: K8sObject): string {
  return obj.kind === 'StatefulSet' ? `${obj.metadata.name}-0` : `${obj.metadata.name}-7d9f-abcde`
}

/**
 * The pod's environment as the container will see it: literal values as written, the downward-API pod
 * name, and a stand-in for each Secret value (all of them optional: the Secrets may exist).
 */
function podEnv (obj: K8sObject, container: Container): Record<string, string> {
  const env: Record<string, string> = {}
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value
    else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[e.name] = podName(obj)
    else if (e.valueFrom?.secretKeyRef !== undefined) env[e.name] = `secret-${e.valueFrom.secretKeyRef.key}`
  }
  return env
}

/** Writes a mounted iotless.yaml to a temporary folder and loads it with the real loader. */
function loadMounted (t: Test, text: string, env: Record<string, string>): ReturnType<typeof loadConfig> {
  const folder = mkdtempSync(join(tmpdir(), 'iotless-k8s-cfg-'))
  t.teardown(() => rmSync(folder, { recursive: true, force: true }))
  writeFileSync(join(folder, 'iotless.yaml'), text)
  return loadConfig({ file: join(folder, 'iotless.yaml'), env })
}

t.test('the mounted iotless.yaml loads as it is with the real config loader and its routes compile', async (t) => {
  for (const { dir, cm } of CASES) {
    const objects = render(dir)
    const { obj, container } = adapterPod(objects)
    const mounted = podTemplates(obj)[0]?.spec.volumes?.find((v) => v.name === 'config')?.configMap?.name
    t.ok(mounted?.startsWith(cm), `${dir}: the adapter mounts ${cm} (${mounted ?? 'none'})`)
    const text = configMapFile(objects, cm).text
    // The pod's IOTLESS_* variables apply as overrides, as they will in the container.
    const env = podEnv(obj, container)
    const loaded = loadMounted(t, text, env)
    t.same(checkRoutes(loaded.config.routes), [], `${dir}: routes compile`)
    t.ok(loaded.config.routes.every((r) => r.target !== 'local'), `${dir}: every route goes to a remote target`)
    t.equal(loaded.config.broker.clientId, podName(obj), `${dir}: the client id is the pod name`)
    t.equal(loaded.config.broker.username, 'secret-username', `${dir}: the broker username comes from the Secret`)
    // A broker without auth (the dev Mosquitto) must work: passwordEnv naming an unset variable stops the adapter.
    t.equal(loaded.config.broker.passwordEnv, undefined, `${dir}: the config names no password variable by default`)
    t.same(readBrokerSecurity(loaded.config.broker, loaded.baseDir, {}).password, undefined, `${dir}: starts without a password`)
    if (dir === 'overlays/dev') t.equal(loaded.config.broker.url, 'mqtt://mosquitto.iotless.svc.cluster.local:1883', 'dev points at its Mosquitto')
  }
})

t.test('a broker with auth: IOTLESS_BROKER_PASSWORD_ENV=MQTT_PASSWORD reads the password the pod gets from the Secret', async (t) => {
  for (const { dir, cm } of CASES) {
    const objects = render(dir)
    const { obj, container } = adapterPod(objects)
    const env = podEnv(obj, container)
    t.same(container.env?.find((e) => e.name === 'MQTT_PASSWORD')?.valueFrom?.secretKeyRef, { name: 'iotless-broker', key: 'password', optional: true }, `${dir}: MQTT_PASSWORD from the optional Secret`)
    const loaded = loadMounted(t, configMapFile(objects, cm).text, { ...env, IOTLESS_BROKER_PASSWORD_ENV: 'MQTT_PASSWORD' })
    const sec = readBrokerSecurity(loaded.config.broker, loaded.baseDir, env)
    t.equal(sec.username, 'secret-username', `${dir}: username`)
    t.equal(sec.password, 'secret-password', `${dir}: password from MQTT_PASSWORD`)
    // Without the Secret the variable is unset, and the adapter refuses to start rather than connect without it.
    const { MQTT_PASSWORD: _unset, ...noSecret } = env
    t.throws(() => readBrokerSecurity(loaded.config.broker, loaded.baseDir, noSecret), { code: 'CONFIG_INVALID' }, `${dir}: an unset MQTT_PASSWORD is refused`)
  }
})

t.test('session expiry: a day for the StatefulSet (stable client ids), short for the ContainerSource (new id per pod)', async (t) => {
  for (const { dir, cm } of CASES) {
    const objects = render(dir)
    const { obj, container } = adapterPod(objects)
    const raw = parseYaml(configMapFile(objects, cm).text) as RawConfig
    t.equal(raw.broker?.sessionExpirySeconds, 86400, `${dir}: the file keeps sessions a day`)
    const expiry = loadMounted(t, configMapFile(objects, cm).text, podEnv(obj, container)).config.broker.sessionExpirySeconds
    if (obj.kind === 'StatefulSet') t.equal(expiry, 86400, `${dir}: the StatefulSet resumes its sessions`)
    else t.ok(expiry <= 300, `${dir}: the ContainerSource's orphaned sessions expire soon (${expiry} s)`)
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
    if (obj.kind === 'StatefulSet') t.ok(((obj.spec as { replicas?: number }).replicas ?? 1) >= 2, `${dir}: at least 2 replicas`)
    for (const e of container.env ?? []) {
      if (!e.name.startsWith('IOTLESS_')) continue
      t.ok(known.has(e.name), `${dir}: ${e.name} is a config override the loader accepts`)
    }
    const raw = parseYaml(configMapFile(objects, cm).text) as RawConfig
    t.equal(raw.metrics?.host, '0.0.0.0', `${dir}: /metrics reachable from the pod network`)
    t.same(container.ports?.map((p) => p.containerPort), [raw.metrics?.port ?? 9464], `${dir}: the container port is metrics.port`)
    t.ok((grace ?? 30) * 1000 > (raw.adapter?.shutdownGraceMs ?? 30_000), `${dir}: terminationGracePeriodSeconds exceeds adapter.shutdownGraceMs`)
  }
})

t.test('every IOTLESS_* variable of every pod (the prefetcher too) is a config override the loader accepts', async (t) => {
  const known = new Set([...envLeaves(configJsonSchema()).map((l) => l.env), ...RESERVED_ENV])
  let n = 0
  for (const { dir, obj } of allRendered()) {
    for (const tpl of podTemplates(obj)) {
      for (const c of tpl.spec.containers ?? []) {
        for (const e of c.env ?? []) {
          if (!e.name.startsWith('IOTLESS_')) continue
          n++
          t.ok(known.has(e.name), `${dir}: ${tpl.where} ${e.name}`)
        }
      }
    }
  }
  t.ok(n > 0, `${n} variables checked`)
})
