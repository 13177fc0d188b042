import t from 'tap'
import { allRendered, podTemplates, render, securityProblems, type K8sObject, type PodTemplate } from './manifests.js'

t.test('every pod template: non-root, read-only root fs, ALL capabilities dropped, no escalation, RuntimeDefault seccomp', async (t) => {
  let templates = 0
  const kinds = new Set<string>()
  for (const { dir, obj } of allRendered()) {
    for (const tpl of podTemplates(obj)) {
      templates++
      kinds.add(tpl.kind)
      t.same(securityProblems(tpl), [], `${dir}: ${tpl.where}`)
    }
  }
  t.ok(templates >= 20, `${templates} pod templates checked`)
  t.same([...kinds].sort(), ['ContainerSource', 'Deployment', 'Service', 'StatefulSet'], 'Deployments, the adapter StatefulSet, the ContainerSource and Knative Services are all covered')
})

t.test('the checker flags each rule it enforces', async (t) => {
  const good = podTemplates(render('base').find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'iotless-adapter') as K8sObject)[0] as PodTemplate
  t.same(securityProblems(good), [])
  const broken = (mutate: (c: NonNullable<PodTemplate['spec']['containers']>[number], tpl: PodTemplate) => void): string[] => {
    const tpl = structuredClone(good)
    mutate((tpl.spec.containers ?? [])[0]!, tpl)
    return securityProblems(tpl)
  }
  t.match(broken((c, tpl) => { delete c.securityContext!.runAsNonRoot; delete tpl.spec.securityContext!.runAsNonRoot }), [/runAsNonRoot/])
  t.match(broken((c) => { c.securityContext!.readOnlyRootFilesystem = false }), [/readOnlyRootFilesystem/])
  t.match(broken((c) => { c.securityContext!.capabilities = { drop: ['NET_RAW'] } }), [/drop lacks ALL/])
  t.match(broken((c) => { c.securityContext!.capabilities!.add = ['NET_ADMIN'] }), [/adds capabilities/])
  t.match(broken((c) => { delete c.securityContext!.allowPrivilegeEscalation }), [/allowPrivilegeEscalation/])
  t.match(broken((c) => { c.securityContext!.runAsUser = 0 }), [/runAsUser is 0/])
  t.match(broken((c, tpl) => { delete c.securityContext!.seccompProfile; delete tpl.spec.securityContext!.seccompProfile }), [/seccompProfile/])
})

t.test('the iotless pods run as the image user 65532 and write only to an emptyDir /tmp', async (t) => {
  for (const { dir, obj } of allRendered()) {
    for (const tpl of podTemplates(obj)) {
      for (const c of tpl.spec.containers ?? []) {
        if (c.image === undefined || !/\/iotless(-gpu)?:/.test(c.image)) continue
        t.equal(c.securityContext?.runAsUser ?? tpl.spec.securityContext?.runAsUser, 65532, `${dir}: ${tpl.where} uid`)
        for (const m of c.volumeMounts ?? []) {
          const vol = tpl.spec.volumes?.find((v) => v.name === m.name) as { emptyDir?: unknown; configMap?: unknown } | undefined
          t.ok(vol?.configMap !== undefined || (vol?.emptyDir !== undefined && m.mountPath === '/tmp'), `${dir}: ${tpl.where} mount ${m.mountPath} is a ConfigMap or the /tmp emptyDir`)
        }
      }
    }
  }
})

t.test('only the prefetcher gets a service account token', async (t) => {
  for (const { dir, obj } of allRendered()) {
    for (const tpl of podTemplates(obj)) {
      if (obj.kind === 'Service') continue // Knative: the token setting lives on the ServiceAccount (below)
      t.equal(tpl.spec.automountServiceAccountToken, tpl.spec.serviceAccountName === 'iotless-prefetcher', `${dir}: ${tpl.where}`)
    }
    if (obj.kind === 'ServiceAccount') {
      t.equal((obj as K8sObject & { automountServiceAccountToken?: boolean }).automountServiceAccountToken ?? true, obj.metadata.name === 'iotless-prefetcher', `${dir}: ServiceAccount ${obj.metadata.name}`)
    }
  }
})

t.test('the adapter and prefetcher pods get no service-link variables (docs/config.md)', async (t) => {
  let checked = 0
  for (const { dir, obj } of allRendered()) {
    if (obj.kind !== 'StatefulSet' && obj.kind !== 'Deployment') continue
    for (const tpl of podTemplates(obj)) {
      if (!(tpl.spec.containers ?? []).some((c) => c.image !== undefined && /\/iotless(-gpu)?:/.test(c.image))) continue
      checked++
      t.equal(tpl.spec.enableServiceLinks, false, `${dir}: ${tpl.where}`)
    }
  }
  t.ok(checked >= 2, `${checked} pod templates checked`)
})
