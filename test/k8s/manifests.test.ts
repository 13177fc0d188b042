import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  allRendered, k8sDir, parseYamlDocs, podTemplates, render, RENDER_DIRS, renderWithComponents, validateObject,
  validatePodTemplateOf, yamlFiles, type K8sObject, type PodSpec
} from './manifests.js'

t.test('every YAML file under k8s/ parses (strictly: no duplicate keys)', async (t) => {
  const files = yamlFiles()
  t.ok(files.length >= 30, `found ${files.length} files`)
  for (const file of files) {
    t.doesNotThrow(() => parseYamlDocs(readFileSync(join(k8sDir, file), 'utf8'), file), file)
  }
})

t.test('the YAML check can fail: a duplicate key is refused', async (t) => {
  t.throws(() => parseYamlDocs('a: 1\na: 2\n', 'dup.yaml'), /dup\.yaml/)
})

t.test('every kustomization renders with kubectl kustomize, offline', async (t) => {
  for (const dir of RENDER_DIRS) {
    const objects = render(dir)
    t.ok(objects.length > 0, `k8s/${dir}: ${objects.length} objects`)
  }
  t.ok(renderWithComponents(['components/knative-1.20']).some((o) => o.kind === 'Role' && o.metadata.name === 'iotless-prefetcher-podautoscalers'), 'base + components/knative-1.20')
})

t.test('the expected objects are there', async (t) => {
  const kinds = (dir: string): string[] => render(dir).map((o) => `${o.kind}/${o.metadata.name}`)
  const base = kinds('base')
  for (const k of ['Namespace/iotless', 'StatefulSet/iotless-adapter', 'Service/iotless-adapter', 'ServiceAccount/iotless-adapter', 'PodDisruptionBudget/iotless-adapter',
    'Deployment/iotless-prefetcher', 'ServiceAccount/iotless-prefetcher', 'Role/iotless-prefetcher', 'RoleBinding/iotless-prefetcher',
    'ClusterRole/iotless-prefetcher-knative-version', 'ClusterRoleBinding/iotless-prefetcher-knative-version',
    'Service/temperature-alert', 'Service/voice-activity']) {
    t.ok(base.includes(k), `base has ${k}`)
  }
  for (const dir of ['base', 'overlays/dev', 'overlays/gpu', 'overlays/eventing']) {
    t.notOk(kinds(dir).includes('Deployment/iotless-adapter'), `${dir}: the adapter is no Deployment`)
  }
  t.ok(kinds('overlays/gpu').includes('Service/text-detect'), 'gpu overlay adds text-detect')
  t.notOk(base.includes('Service/text-detect'), 'the base has no GPU function')
  t.ok(kinds('overlays/eventing').includes('SinkBinding/iotless-adapter'))
  const cs = kinds('overlays/eventing-containersource')
  t.ok(cs.includes('ContainerSource/iotless-adapter'))
  t.notOk(cs.includes('StatefulSet/iotless-adapter'), 'the ContainerSource replaces the adapter StatefulSet')
  t.notOk(cs.includes('Service/iotless-adapter'), '... and its headless Service')
  t.notOk(cs.includes('PodDisruptionBudget/iotless-adapter'))
  t.same(kinds('knative-serving/queue-proxy'), ['ConfigMap/config-deployment'])
})

t.test('every rendered object validates against the Kubernetes / Knative schemas', async (t) => {
  let n = 0
  for (const { dir, obj } of allRendered()) {
    await t.resolves(validateObject(obj), `${dir}: ${obj.apiVersion} ${obj.kind} ${obj.metadata.name}`)
    n++
  }
  t.ok(n >= 90, `${n} objects validated`)
})

t.test('pod templates inside Knative objects also validate as core v1 PodTemplates', async (t) => {
  for (const { dir, obj } of allRendered()) {
    if (obj.kind === 'ContainerSource' || (obj.kind === 'Service' && obj.apiVersion.startsWith('serving.knative.dev/'))) {
      await t.resolves(validatePodTemplateOf(obj), `${dir}: ${obj.kind} ${obj.metadata.name}`)
    }
  }
})

t.test('the schema check can fail: wrong types are rejected', async (t) => {
  const ksvc = render('base').find((o) => o.kind === 'Service' && o.metadata.name === 'temperature-alert') as K8sObject
  const bad = structuredClone(ksvc) as K8sObject & { spec: { template: { spec: { containerConcurrency: unknown } } } }
  bad.spec.template.spec.containerConcurrency = 'fifty'
  await t.rejects(validateObject(bad), /containerConcurrency/)
  const cs = render('overlays/eventing-containersource').find((o) => o.kind === 'ContainerSource') as K8sObject
  const badCs = structuredClone(cs) as K8sObject & { spec: { template: { spec: PodSpec } } }
  ;(badCs.spec.template.spec.containers as Array<Record<string, unknown>>)[0]!.ports = [{ containerPort: 'metrics' }]
  await t.rejects(validatePodTemplateOf(badCs), /containerPort/)
  await t.rejects(validateObject({ apiVersion: 'example.com/v1', kind: 'Nope', metadata: { name: 'x' } }), /no schema module|no model/)
})

t.test('every object lands in the iotless namespace, except cluster-scoped ones and Knative config', async (t) => {
  const clusterScoped = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding'])
  for (const { dir, obj } of allRendered()) {
    const expected = dir.startsWith('knative-serving/') ? 'knative-serving' : clusterScoped.has(obj.kind) ? undefined : 'iotless'
    t.equal(obj.metadata.namespace, expected, `${dir}: ${obj.kind} ${obj.metadata.name}`)
  }
})

t.test('no secret values: no Secret objects, and secret-looking env vars come from secretKeyRef', async (t) => {
  for (const file of yamlFiles()) {
    for (const doc of parseYamlDocs(readFileSync(join(k8sDir, file), 'utf8'), file)) {
      t.not((doc as Partial<K8sObject>).kind, 'Secret', `${file} holds no Secret`)
    }
  }
  for (const { dir, obj } of allRendered()) {
    t.not(obj.kind, 'Secret', `${dir}: ${obj.kind} ${obj.metadata.name}`)
    for (const tpl of podTemplates(obj)) {
      for (const c of tpl.spec.containers ?? []) {
        for (const e of c.env ?? []) {
          if (/PASSWORD|SECRET|TOKEN|API_KEY|AUTH|USERNAME/.test(e.name)) {
            t.equal(e.value, undefined, `${dir} ${tpl.where} ${e.name} has no literal value`)
            t.ok(e.valueFrom?.secretKeyRef !== undefined, `${dir} ${tpl.where} ${e.name} comes from a Secret`)
          }
        }
      }
    }
  }
  const adapter = render('base').find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'iotless-adapter') as K8sObject
  const env = podTemplates(adapter)[0]?.spec.containers?.[0]?.env ?? []
  t.same(env.filter((e) => e.valueFrom?.secretKeyRef !== undefined).map((e) => [e.name, e.valueFrom?.secretKeyRef?.name, e.valueFrom?.secretKeyRef?.key]), [
    ['IOTLESS_BROKER_USERNAME', 'iotless-broker', 'username'],
    ['MQTT_PASSWORD', 'iotless-broker', 'password'],
    ['__OW_API_KEY', 'iotless-openwhisk', 'auth']
  ], 'the adapter reads broker credentials and the OpenWhisk key from Secrets')
})

t.test('ConfigMaps and ServiceAccounts named by pod templates exist in the same render', async (t) => {
  for (const dir of RENDER_DIRS) {
    const objects = render(dir)
    const has = (kind: string, name: string): boolean => objects.some((o) => o.kind === kind && o.metadata.name === name)
    for (const obj of objects) {
      for (const tpl of podTemplates(obj)) {
        for (const v of tpl.spec.volumes ?? []) {
          if (v.configMap !== undefined) t.ok(has('ConfigMap', v.configMap.name), `${dir}: ${tpl.where} mounts ConfigMap ${v.configMap.name}`)
        }
        if (tpl.spec.serviceAccountName !== undefined) t.ok(has('ServiceAccount', tpl.spec.serviceAccountName), `${dir}: ${tpl.where} runs as ${tpl.spec.serviceAccountName}`)
      }
    }
  }
})

t.test('images: every container image is set by kustomize to a registry image, never latest', async (t) => {
  for (const { dir, obj } of allRendered()) {
    for (const tpl of podTemplates(obj)) {
      for (const c of tpl.spec.containers ?? []) {
        t.match(c.image, /^[a-z0-9.-]+(\/[a-z0-9._-]+)*:[A-Za-z0-9._-]+$|@sha256:[0-9a-f]{64}$/, `${dir}: ${tpl.where} image ${c.image}`)
        t.notMatch(c.image, /:latest$/)
      }
    }
  }
  const gpu = render('overlays/gpu').find((o) => o.kind === 'Service' && o.metadata.name === 'text-detect') as K8sObject
  t.equal(podTemplates(gpu)[0]?.spec.containers?.[0]?.image, 'registry.example.com/iotless-gpu:0.1.0', 'text-detect runs the GPU image')
})

interface StatefulSetSpec {
  serviceName?: string
  podManagementPolicy?: string
  updateStrategy?: { type?: string }
  selector: { matchLabels: Record<string, string> }
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec }
}

t.test('the adapter StatefulSet: stable pod names as client ids, a headless Service, parallel pods, rolling updates', async (t) => {
  for (const dir of ['base', 'overlays/dev', 'overlays/gpu', 'overlays/eventing']) {
    const objects = render(dir)
    const sts = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'iotless-adapter') as (K8sObject & { spec: StatefulSetSpec }) | undefined
    if (sts === undefined) { t.fail(`${dir}: no adapter StatefulSet`); continue }
    t.equal(sts.spec.podManagementPolicy, 'Parallel', `${dir}: podManagementPolicy`)
    t.equal(sts.spec.updateStrategy?.type, 'RollingUpdate', `${dir}: updateStrategy`)
    const clientId = sts.spec.template.spec.containers?.[0]?.env?.find((e) => e.name === 'IOTLESS_BROKER_CLIENT_ID')
    t.equal(clientId?.valueFrom?.fieldRef?.fieldPath, 'metadata.name', `${dir}: the client id is the (stable) pod name`)
    const svc = objects.find((o) => o.kind === 'Service' && o.apiVersion === 'v1' && o.metadata.name === sts.spec.serviceName) as (K8sObject & { spec: { clusterIP?: string; selector?: Record<string, string>; ports?: Array<{ name?: string; port: number; targetPort?: unknown }> } }) | undefined
    t.ok(svc !== undefined, `${dir}: serviceName ${sts.spec.serviceName ?? '(none)'} is a Service of the render`)
    t.equal(svc?.spec.clusterIP, 'None', `${dir}: the Service is headless`)
    t.same(svc?.spec.selector, sts.spec.selector.matchLabels, `${dir}: it selects the adapter pods`)
    for (const [k, v] of Object.entries(svc?.spec.selector ?? {})) t.equal(sts.spec.template.metadata.labels[k], v, `${dir}: pod label ${k}`)
    t.same(svc?.spec.ports?.map((p) => [p.name, p.port, p.targetPort]), [['metrics', 9464, 'metrics']], `${dir}: port metrics 9464`)
    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget' && o.metadata.name === 'iotless-adapter') as (K8sObject & { spec: { selector: { matchLabels: Record<string, string> } } }) | undefined
    t.same(pdb?.spec.selector.matchLabels, sts.spec.selector.matchLabels, `${dir}: the PodDisruptionBudget covers the StatefulSet's pods`)
  }
  const binding = render('overlays/eventing').find((o) => o.kind === 'SinkBinding') as (K8sObject & { spec: { subject: { apiVersion: string; kind: string; name: string } } }) | undefined
  t.same(binding?.spec.subject, { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'iotless-adapter' }, 'the SinkBinding binds the adapter StatefulSet')
})
