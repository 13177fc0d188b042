import t, { type Test } from 'tap'
import { ManualClock } from '../../core/clock.js'
import { isIotlessError } from '../../core/errors.js'
import type { LiveDecision } from '../../prefetch/actuators/actuator.js'
import { KNATIVE_ACTUATOR_RBAC, KnativeActuator, MIN_SCALE_ANNOTATION, parseKnativeVersion, patchesRevision, versionFromLabels } from '../../prefetch/actuators/knativeActuator.js'
import { RestKubeApi, type KubeApi, type KubeConnection } from '../../prefetch/actuators/kubeApi.js'
import { loadClientNodeKubeApi } from '../../prefetch/actuators/clientNodeKubeApi.js'
import { memoryLog } from '../helpers/silentLog.js'
import { fixture, rbacOf, startFakeKubeApi, type RecordedRequest } from './fakeKubeApi.js'

const NS = '/api/v1/namespaces/knative-serving'
const SVC = '/apis/serving.knative.dev/v1/namespaces/iot/services/temperature-alert'
const REV = '/apis/serving.knative.dev/v1/namespaces/iot/revisions/temperature-alert-00002'
const REV3 = '/apis/serving.knative.dev/v1/namespaces/iot/revisions/temperature-alert-00003'
const PA = '/apis/autoscaling.internal.knative.dev/v1alpha1/namespaces/iot/podautoscalers/temperature-alert-00002'

/** Every request any test here made, for the RBAC check at the end. */
const allRequests: RecordedRequest[] = []

async function failure (p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p
  } catch (err) {
    if (isIotlessError(err)) return { code: err.code, message: err.message }
    return { code: 'not an IotlessError', message: String(err) }
  }
  return { code: 'resolved', message: '' }
}

function want (warm: number, early = false): LiveDecision {
  return { prewarmAt: 0, keepAliveUntil: 1, instances: Math.max(1, warm), nowMs: 0, warm, early }
}

type ApiFactory = (c: KubeConnection) => Promise<KubeApi>
const rest: ApiFactory = async (c) => new RestKubeApi(c)

async function setup (t: Test, objects: Record<string, ReturnType<typeof fixture>>, opts: { knativeVersion?: string } = {}, makeApi: ApiFactory = rest) {
  const api = await startFakeKubeApi(objects)
  const kube = await makeApi(api.connection)
  t.teardown(async () => { allRequests.push(...api.requests); await (kube as { close?: () => Promise<void> }).close?.(); await api.close() })
  const clock = new ManualClock(1_000_000)
  const actuator = new KnativeActuator({ api: kube, namespace: 'iot', clock, log: memoryLog().log, minPatchIntervalMs: 30_000, ...opts })
  const annotation = (path: string): unknown => {
    const o = api.objects[path] as { metadata?: { annotations?: Record<string, string> } } | undefined
    return o?.metadata?.annotations?.[MIN_SCALE_ANNOTATION]
  }
  const patches = () => api.requests.filter((r) => r.method === 'PATCH')
  return { api, clock, actuator, annotation, patches }
}

async function revisionScenario (t: Test, makeApi: ApiFactory): Promise<void> {
  const { api, clock, actuator, annotation, patches } = await setup(t, {
    [NS]: fixture('namespace-knative-serving-v1.21.json'),
    [SVC]: fixture('service-temperature-alert.json'),
    [REV]: fixture('revision-temperature-alert-00002.json'),
    [PA]: fixture('podautoscaler-temperature-alert-00002.json')
  }, {}, makeApi)
  t.same(await actuator.version(), { major: 1, minor: 21, raw: '1.21.0', from: 'namespace knative-serving label app.kubernetes.io/version' })
  await actuator.apply('temperature-alert', want(0))
  t.equal(api.requests.length, 1, 'nothing wanted and nothing touched: only the version was read')

  await actuator.apply('temperature-alert', want(1))
  t.same(api.requests.map((r) => `${r.method} ${r.path}`), [`GET ${NS}`, `GET ${SVC}`, `GET ${REV}`, `PATCH ${REV}`])
  const p = patches()[0]
  t.equal(p?.contentType, 'application/merge-patch+json', 'a JSON merge patch')
  t.same(p?.body, { metadata: { annotations: { [MIN_SCALE_ANNOTATION]: '1' } } }, 'only the annotation is sent')
  t.equal(p?.authorization, 'Bearer test-token', 'the kubeconfig token is used')
  t.equal(annotation(REV), '1', 'the Revision now has min-scale 1')
  t.equal(annotation(PA), '1', 'the PodAutoscaler is left alone (the reconciler copies it on >= 1.21)')

  await actuator.apply('temperature-alert', want(1))
  t.equal(patches().length, 1, 'same value again: no request')

  clock.advance(10_000)
  await actuator.apply('temperature-alert', want(0))
  t.equal(patches().length, 1, 'a change within 30 s is rate-limited')
  t.equal(annotation(REV), '1')
  clock.advance(20_000)
  await actuator.apply('temperature-alert', want(0))
  t.equal(patches().length, 2, 'after the interval the release goes through')
  t.same(patches()[1]?.body, { metadata: { annotations: { [MIN_SCALE_ANNOTATION]: null } } }, 'release puts back "no annotation"')
  t.equal(annotation(REV), undefined)

  clock.advance(30_000)
  await actuator.apply('temperature-alert', want(2))
  t.equal(annotation(REV), '2')
  await actuator.close()
  t.same(patches().at(-1)?.body, { metadata: { annotations: { [MIN_SCALE_ANNOTATION]: null } } }, 'close restores: annotation removed')
  t.equal(annotation(REV), undefined)
  t.notOk(api.requests.some((r) => r.path === PA), 'no PodAutoscaler request on >= 1.21')
  await actuator.apply('temperature-alert', want(3))
  t.equal(annotation(REV), undefined, 'closed: no more patches')
}

t.test('Knative >= 1.21 (namespace label): min-scale is patched on the latest ready Revision, merge patch, then restored', (t) => revisionScenario(t, rest))

let clientNodeError: string | undefined
try {
  await loadClientNodeKubeApi({ connection: { server: 'http://127.0.0.1:1' } })
} catch (err) {
  // client-node 2.0 bundles undici 8 (engines: node >= 22.19); on older Node it cannot load.
  clientNodeError = (err as Error).message
}
t.test('the same through @kubernetes/client-node', { skip: clientNodeError ?? false }, (t) => revisionScenario(t, (c) => loadClientNodeKubeApi({ connection: c })))

t.test('Knative <= 1.20 (namespace label): the PodAutoscaler is patched, never below its own min-scale, and restored', async (t) => {
  const { api, clock, actuator, annotation, patches } = await setup(t, {
    [NS]: fixture('namespace-knative-serving-v1.20.json'),
    [SVC]: fixture('service-temperature-alert.json'),
    [REV]: fixture('revision-temperature-alert-00002.json'),
    [PA]: fixture('podautoscaler-temperature-alert-00002.json')
  })
  await actuator.apply('temperature-alert', want(3))
  t.same(api.requests.map((r) => `${r.method} ${r.path}`), [`GET ${NS}`, `GET ${SVC}`, `GET ${PA}`, `PATCH ${PA}`])
  t.equal((await actuator.version()).raw, '1.20.3')
  t.equal(annotation(PA), '3')
  t.equal(patches()[0]?.contentType, 'application/merge-patch+json')
  clock.advance(30_000)
  await actuator.apply('temperature-alert', want(0))
  t.equal(annotation(PA), '1', 'release goes back to the PA\'s own min-scale 1, not 0')
  await actuator.close()
  t.equal(annotation(PA), '1', 'restored to 1')
  t.same(patches().at(-1)?.body, { metadata: { annotations: { [MIN_SCALE_ANNOTATION]: '1' } } })
  t.equal(annotation(REV), undefined, 'the Revision is not touched on <= 1.20')
  t.notOk(api.requests.some((r) => r.method === 'PATCH' && r.path === REV))
})

t.test('a new ready revision: the old one gets its value back before the new one is patched', async (t) => {
  const rev3 = fixture('revision-temperature-alert-00002.json')
  ;(rev3.metadata as Record<string, unknown>).name = 'temperature-alert-00003'
  const { api, clock, actuator, annotation } = await setup(t, {
    [SVC]: fixture('service-temperature-alert.json'),
    [REV]: fixture('revision-temperature-alert-00002.json'),
    [REV3]: rev3
  }, { knativeVersion: 'v1.21.1' })
  await actuator.apply('temperature-alert', want(1))
  t.equal(annotation(REV), '1')
  t.notOk(api.requests.some((r) => r.path === NS), '--knative-version skips detection')
  ;((api.objects[SVC] as Record<string, Record<string, unknown>>).status as Record<string, unknown>).latestReadyRevisionName = 'temperature-alert-00003'
  const before = api.requests.length
  clock.advance(30_000)
  await actuator.apply('temperature-alert', want(1))
  t.equal(api.requests.length, before, 'same floor, Service read less than a minute ago: no request')
  clock.advance(30_000)
  await actuator.apply('temperature-alert', want(1))
  t.equal(annotation(REV), undefined, 'a minute on, the Service is read again: old revision restored')
  t.equal(annotation(REV3), '1', 'the new revision gets the floor')
  clock.advance(60_000)
  const settled = api.requests.length
  await actuator.apply('temperature-alert', want(1))
  t.same(api.requests.slice(settled).map((r) => r.method), ['GET'], 'a later check that finds no change is one GET')
  clock.advance(30_000)
  await actuator.apply('temperature-alert', want(2))
  t.equal(annotation(REV3), '2', 'a new value is patched on the new revision')
  await actuator.close()
  t.equal(annotation(REV3), undefined)
})

t.test('failures name the object: missing Service, unknown version', async (t) => {
  const { actuator } = await setup(t, { [NS]: fixture('namespace-knative-serving-v1.21.json') })
  const e1 = await failure(actuator.apply('nope', want(1)))
  t.equal(e1.code, 'PREFETCH_ACTUATOR_FAILED')
  t.match(e1.message, /get services\.serving\.knative\.dev iot\/nope: HTTP 404: services.serving.knative.dev "nope" not found/)
  const unknown = await setup(t, { [NS]: fixture('namespace-knative-serving-unlabelled.json') })
  const e2 = await failure(unknown.actuator.apply('temperature-alert', want(1)))
  t.equal(e2.code, 'PREFETCH_ACTUATOR_FAILED')
  t.match(e2.message, /cannot tell the Knative Serving version \(namespace knative-serving has no version label\); pass --knative-version/)
  const bad = await setup(t, {}, { knativeVersion: 'devel' })
  await t.rejects(bad.actuator.version(), /knative version "devel" is not like 1.21/)
})

t.test('version parsing and the 1.21 boundary', async (t) => {
  t.same(parseKnativeVersion('knative-v1.21.0', 'x'), { major: 1, minor: 21, raw: 'knative-v1.21.0', from: 'x' })
  t.equal(parseKnativeVersion('devel', 'x'), undefined)
  t.equal(patchesRevision({ major: 1, minor: 21, raw: '', from: '' }), true)
  t.equal(patchesRevision({ major: 1, minor: 20, raw: '', from: '' }), false)
  t.equal(patchesRevision({ major: 2, minor: 0, raw: '', from: '' }), true)
  t.equal(patchesRevision({ major: 0, minor: 26, raw: '', from: '' }), false)
  t.same(versionFromLabels({ 'serving.knative.dev/release': 'v0.24.0' }, 'ns')?.minor, 24, 'old release label')
  t.equal(versionFromLabels({ 'app.kubernetes.io/version': 'devel' }, 'ns'), undefined)
})

t.test('KNATIVE_ACTUATOR_RBAC covers every request the fake API server saw, and lists nothing unused', async (t) => {
  t.ok(allRequests.length >= 20, `${allRequests.length} requests recorded`)
  const uncovered = new Set<string>()
  const used = new Set<string>()
  for (const r of allRequests) {
    const { apiGroup, resource, verb } = rbacOf(r)
    const rule = KNATIVE_ACTUATOR_RBAC.find((x) => x.apiGroup === apiGroup && x.resource === resource && x.verbs.includes(verb))
    if (rule === undefined) uncovered.add(`${apiGroup}/${resource} ${verb} (${r.method} ${r.path})`)
    else used.add(`${apiGroup}/${resource} ${verb}`)
  }
  t.same([...uncovered], [], 'no request outside the list')
  const listed = KNATIVE_ACTUATOR_RBAC.flatMap((x) => x.verbs.map((v) => `${x.apiGroup}/${x.resource} ${v}`))
  t.same(listed.filter((l) => !used.has(l)), [], 'every listed permission was exercised')
})
