import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { parseAllDocuments } from 'yaml'
import { repoRoot } from '../helpers/paths.js'

export const k8sDir = join(repoRoot, 'k8s')

/** A Kubernetes object as read from YAML: only the fields every check reads are typed. */
export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }
  [field: string]: unknown
}

/** Every kustomization users apply: `kubectl kustomize <dir>` must render each. */
export const RENDER_DIRS = [
  'base',
  'overlays/dev',
  'overlays/gpu',
  'overlays/eventing',
  'overlays/eventing-containersource',
  'knative-serving/queue-proxy',
  'knative-serving/gpu-features'
] as const

/** Every .yaml/.yml file under k8s/, relative to it. */
export function yamlFiles (dir = k8sDir): string[] {
  const out: string[] = []
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) out.push(...yamlFiles(path))
    else if (/\.ya?ml$/.test(entry.name)) out.push(relative(k8sDir, path))
  }
  return out.sort()
}

/** Parses a multi-document YAML text strictly (duplicate keys and syntax errors throw). */
export function parseYamlDocs (text: string, where: string): unknown[] {
  return parseAllDocuments(text, { uniqueKeys: true, prettyErrors: true }).map((doc, i) => {
    const problems = [...doc.errors, ...doc.warnings]
    if (problems.length > 0) throw new Error(`${where} document ${i}: ${problems.map((e) => e.message).join('; ')}`)
    return doc.toJS() as unknown
  }).filter((d) => d !== null && d !== undefined)
}

let kubectlChecked = false
function kubectl (args: string[]): string {
  if (!kubectlChecked) {
    try {
      execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' })
    } catch (err) {
      throw new Error(`kubectl is needed to render the kustomizations (kubectl kustomize works offline) but it could not be run: ${(err as Error).message}. Install kubectl >= 1.27 and run the tests again.`, { cause: err })
    }
    kubectlChecked = true
  }
  return execFileSync('kubectl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 * 1024 * 1024 })
}

const renderCache = new Map<string, K8sObject[]>()

/** `kubectl kustomize k8s/<dir>`, parsed; cached per test process. */
export function render (dir: string): K8sObject[] {
  const cached = renderCache.get(dir)
  if (cached !== undefined) return cached
  const objects = parseYamlDocs(kubectl(['kustomize', join(k8sDir, dir)]), `kubectl kustomize k8s/${dir}`) as K8sObject[]
  renderCache.set(dir, objects)
  return objects
}

/**
 * Renders base plus components, as a user's overlay would (`components: [...]`). kustomize refuses
 * absolute paths, so the temporary kustomization names them relative to itself.
 */
export function renderWithComponents (components: string[]): K8sObject[] {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-kustomize-'))
  try {
    const rel = (p: string): string => relative(dir, join(k8sDir, p))
    writeFileSync(join(dir, 'kustomization.yaml'), [
      'apiVersion: kustomize.config.k8s.io/v1beta1',
      'kind: Kustomization',
      'namespace: iotless',
      'resources:',
      `  - ${rel('base')}`,
      'components:',
      ...components.map((c) => `  - ${rel(c)}`)
    ].join('\n') + '\n')
    return parseYamlDocs(kubectl(['kustomize', dir]), `base + ${components.join(', ')}`) as K8sObject[]
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Every rendered object of every kustomization, with where it came from. */
export function allRendered (): Array<{ dir: string; obj: K8sObject }> {
  const out: Array<{ dir: string; obj: K8sObject }> = []
  for (const dir of RENDER_DIRS) for (const obj of render(dir)) out.push({ dir, obj })
  for (const obj of renderWithComponents(['components/knative-1.20'])) out.push({ dir: 'base+components/knative-1.20', obj })
  return out
}

export interface PodTemplate { where: string; kind: string; spec: PodSpec }
export interface PodSpec {
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type?: string } }
  containers?: Container[]
  initContainers?: Container[]
  volumes?: Array<{ name: string; configMap?: { name: string }; secret?: { secretName: string } }>
  serviceAccountName?: string
  automountServiceAccountToken?: boolean
  [field: string]: unknown
}
export interface Container {
  name?: string
  image?: string
  args?: string[]
  env?: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string }; fieldRef?: { fieldPath: string }; configMapKeyRef?: unknown } }>
  ports?: Array<{ containerPort: number; name?: string }>
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> }
  securityContext?: {
    runAsNonRoot?: boolean
    runAsUser?: number
    readOnlyRootFilesystem?: boolean
    allowPrivilegeEscalation?: boolean
    privileged?: boolean
    capabilities?: { drop?: string[]; add?: string[] }
    seccompProfile?: { type?: string }
  }
  volumeMounts?: Array<{ name: string; mountPath: string }>
}

/** Kinds whose spec.template is a pod template (apps, batch, Knative Serving and Eventing). */
const TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job', 'ContainerSource', 'Service/serving.knative.dev', 'Configuration/serving.knative.dev'])

export function kindKey (obj: K8sObject): string {
  const group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : ''
  return obj.kind === 'Service' || obj.kind === 'Configuration' ? `${obj.kind}/${group}` : obj.kind
}

/** The pod templates an object carries (none for ConfigMaps, Roles, ...). */
export function podTemplates (obj: K8sObject): PodTemplate[] {
  const where = `${obj.kind} ${obj.metadata.name}`
  if (obj.kind === 'Pod') return [{ where, kind: obj.kind, spec: obj.spec as PodSpec }]
  if (obj.kind === 'CronJob') {
    const spec = obj.spec as { jobTemplate?: { spec?: { template?: { spec?: PodSpec } } } }
    const pod = spec.jobTemplate?.spec?.template?.spec
    return pod === undefined ? [] : [{ where, kind: obj.kind, spec: pod }]
  }
  if (!TEMPLATE_KINDS.has(kindKey(obj))) return []
  const pod = (obj.spec as { template?: { spec?: PodSpec } } | undefined)?.template?.spec
  return pod === undefined ? [] : [{ where, kind: obj.kind, spec: pod }]
}

/** What the security rules say about one pod template; an empty list means it complies. */
export function securityProblems (tpl: PodTemplate): string[] {
  const problems: string[] = []
  const pod = tpl.spec.securityContext ?? {}
  const containers = [...(tpl.spec.containers ?? []), ...(tpl.spec.initContainers ?? [])]
  if (containers.length === 0) problems.push(`${tpl.where}: no containers`)
  for (const c of containers) {
    const at = `${tpl.where} container ${c.name ?? '(unnamed)'}`
    const sc = c.securityContext ?? {}
    if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true) problems.push(`${at}: runAsNonRoot is not true`)
    if ((sc.runAsUser ?? pod.runAsUser) === 0) problems.push(`${at}: runAsUser is 0`)
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${at}: readOnlyRootFilesystem is not true`)
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${at}: allowPrivilegeEscalation is not false`)
    if (sc.privileged === true) problems.push(`${at}: privileged`)
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${at}: capabilities.drop lacks ALL`)
    if ((sc.capabilities?.add ?? []).length > 0) problems.push(`${at}: adds capabilities ${String(sc.capabilities?.add)}`)
    if ((sc.seccompProfile?.type ?? pod.seccompProfile?.type) !== 'RuntimeDefault') problems.push(`${at}: seccompProfile is not RuntimeDefault`)
  }
  return problems
}

/** The iotless.yaml a rendered ConfigMap carries. */
export function configMapFile (objects: K8sObject[], namePrefix: string, file = 'iotless.yaml'): { name: string; text: string } {
  const cm = objects.find((o) => o.kind === 'ConfigMap' && (o.metadata.name === namePrefix || o.metadata.name.startsWith(namePrefix + '-')))
  if (cm === undefined) throw new Error(`no ConfigMap ${namePrefix}`)
  const text = (cm.data as Record<string, string> | undefined)?.[file]
  if (text === undefined) throw new Error(`ConfigMap ${cm.metadata.name} has no ${file}`)
  return { name: cm.metadata.name, text }
}

/** The kubernetes-models / @kubernetes-models/knative module that holds an apiVersion's classes. */
export function modelModule (apiVersion: string): string {
  if (!apiVersion.includes('/')) return `kubernetes-models/${apiVersion}`
  const [group] = apiVersion.split('/') as [string, string]
  return group.endsWith('.knative.dev') ? `@kubernetes-models/knative/${apiVersion}` : `kubernetes-models/${apiVersion}`
}

interface Model { validate(): void }
type ModelClass = new (data: unknown) => Model

/** Constructs the object's model class and validates it against the OpenAPI schema; throws on a violation. */
export async function validateObject (obj: K8sObject): Promise<void> {
  const spec = modelModule(obj.apiVersion)
  let mod: Record<string, unknown>
  try {
    mod = await import(spec) as Record<string, unknown>
  } catch (err) {
    throw new Error(`no schema module ${spec} for ${obj.apiVersion} ${obj.kind}: ${(err as Error).message}`, { cause: err })
  }
  const Cls = mod[obj.kind]
  if (typeof Cls !== 'function') throw new Error(`${spec} has no model for kind ${obj.kind}`)
  new (Cls as ModelClass)(obj).validate()
}

/**
 * A ContainerSource's (and a Knative Service's) pod template is only loosely typed in the CRD schema, so it
 * is also checked as a core v1 PodTemplate, which types every container field.
 */
export async function validatePodTemplateOf (obj: K8sObject): Promise<void> {
  const template = (obj.spec as { template?: unknown } | undefined)?.template
  if (template === undefined) throw new Error(`${obj.kind} ${obj.metadata.name} has no spec.template`)
  const { PodTemplate } = await import('kubernetes-models/v1')
  new PodTemplate({ metadata: { name: obj.metadata.name }, template: template as never }).validate()
}

export interface PolicyRule { apiGroups?: string[]; resources?: string[]; verbs?: string[]; resourceNames?: string[]; nonResourceURLs?: string[] }

/** `group resource verb` for every grant of every rule, e.g. `serving.knative.dev revisions patch`. */
export function ruleTriples (rules: PolicyRule[]): string[] {
  const out = new Set<string>()
  for (const r of rules) {
    for (const g of r.apiGroups ?? []) for (const res of r.resources ?? []) for (const v of r.verbs ?? []) out.add(`${g} ${res} ${v}`)
  }
  return [...out].sort()
}

/** The rules of every Role/ClusterRole bound to the prefetcher's ServiceAccount, from base plus the <= 1.20 component. */
export function prefetcherRules (): { rules: PolicyRule[]; roles: string[] } {
  const objects = renderWithComponents(['components/knative-1.20'])
  const bound = new Set<string>()
  for (const b of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const subjects = (b as K8sObject & { subjects?: Array<{ kind: string; name: string }> }).subjects ?? []
    const ref = (b as K8sObject & { roleRef: { kind: string; name: string } }).roleRef
    if (subjects.some((s) => s.kind === 'ServiceAccount' && s.name === 'iotless-prefetcher')) bound.add(`${ref.kind}/${ref.name}`)
  }
  const roles = objects.filter((o) => (o.kind === 'Role' || o.kind === 'ClusterRole') && bound.has(`${o.kind}/${o.metadata.name}`))
  return { rules: roles.flatMap((r) => (r as K8sObject & { rules: PolicyRule[] }).rules), roles: roles.map((r) => `${r.kind}/${r.metadata.name}`).sort() }
}
