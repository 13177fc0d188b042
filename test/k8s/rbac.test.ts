import t from 'tap'
import { allRendered, prefetcherRules, ruleTriples, type K8sObject, type PolicyRule } from './manifests.js'

/**
 * Contracts reference section 5 lists the most a prefetcher may need (get/list/watch on the serving objects,
 * patch/update on revisions and, for <= 1.20, podautoscalers). iotless grants only what its actuator calls,
 * a subset of that: get on services, get/patch on revisions (and podautoscalers, the component), and the one
 * read the version detection needs. test/k8s/rbacMatchesActuator.test.ts checks the same rules against what
 * the actuator code exports.
 */
const SECTION_5 = new Set([
  'serving.knative.dev services get', 'serving.knative.dev services list', 'serving.knative.dev services watch',
  'serving.knative.dev configurations get', 'serving.knative.dev configurations list', 'serving.knative.dev configurations watch',
  'serving.knative.dev routes get', 'serving.knative.dev routes list', 'serving.knative.dev routes watch',
  'serving.knative.dev revisions get', 'serving.knative.dev revisions list', 'serving.knative.dev revisions watch',
  'serving.knative.dev revisions patch', 'serving.knative.dev revisions update',
  'autoscaling.internal.knative.dev podautoscalers get', 'autoscaling.internal.knative.dev podautoscalers patch', 'autoscaling.internal.knative.dev podautoscalers update',
  ' namespaces get'
])
const CONTRACT = [
  'serving.knative.dev services get',
  'serving.knative.dev revisions get', 'serving.knative.dev revisions patch',
  'autoscaling.internal.knative.dev podautoscalers get', 'autoscaling.internal.knative.dev podautoscalers patch',
  ' namespaces get'
].sort()

t.test('the prefetcher is granted exactly what it calls, all of it within contract section 5', async (t) => {
  const { rules, roles } = prefetcherRules()
  t.same(roles, ['ClusterRole/iotless-prefetcher-knative-version', 'Role/iotless-prefetcher', 'Role/iotless-prefetcher-podautoscalers'])
  t.same(ruleTriples(rules), CONTRACT)
  t.same(ruleTriples(rules).filter((r) => !SECTION_5.has(r)), [], 'nothing beyond section 5')
})

t.test('no wildcards, no create/delete, and the cluster-wide read is one named namespace', async (t) => {
  const { rules } = prefetcherRules()
  for (const r of rules) {
    t.notOk([...(r.apiGroups ?? []), ...(r.resources ?? []), ...(r.verbs ?? [])].includes('*'), JSON.stringify(r))
    t.notOk((r.verbs ?? []).some((v) => ['create', 'delete', 'deletecollection', 'escalate', 'bind', 'impersonate'].includes(v)), JSON.stringify(r))
  }
  for (const { obj } of allRendered()) {
    if (obj.kind !== 'ClusterRole') continue
    const crRules = (obj as K8sObject & { rules: PolicyRule[] }).rules
    t.same(crRules, [{ apiGroups: [''], resources: ['namespaces'], resourceNames: ['knative-serving'], verbs: ['get'] }], obj.metadata.name)
  }
})

t.test('only the prefetcher service account is bound to any role', async (t) => {
  for (const { dir, obj } of allRendered()) {
    if (obj.kind !== 'RoleBinding' && obj.kind !== 'ClusterRoleBinding') continue
    const subjects = (obj as K8sObject & { subjects: Array<{ kind: string; name: string; namespace?: string }> }).subjects
    t.same(subjects.map((s) => `${s.kind}/${s.name}`), ['ServiceAccount/iotless-prefetcher'], `${dir}: ${obj.kind} ${obj.metadata.name}`)
    if (obj.kind === 'ClusterRoleBinding') t.equal(subjects[0]?.namespace, 'iotless')
  }
})
