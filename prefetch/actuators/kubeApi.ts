import { readFileSync } from 'node:fs'
import { Agent, request } from 'undici'
import { parse as parseYaml } from 'yaml'
import { IotlessError } from '../../core/errors.js'

export interface K8sObject {
  metadata?: { name?: string; annotations?: Record<string, string>; labels?: Record<string, string> }
  status?: { latestReadyRevisionName?: string }
}

/** An API error: the HTTP status and the Status message of the API server. */
export class KubeApiError extends Error {
  constructor (readonly status: number, message: string) { super(message) }
}

/**
 * The Kubernetes calls the Knative actuator makes, nothing more. Two implementations: `RestKubeApi` (undici,
 * runs on every supported Node) and `ClientNodeKubeApi` (@kubernetes/client-node 2, which needs Node >= 22.19
 * because it bundles undici 8).
 */
export interface KubeApi {
  readonly kind: string
  readNamespace(name: string): Promise<K8sObject>
  getCustom(group: string, version: string, namespace: string, plural: string, name: string): Promise<K8sObject>
  /** A JSON merge patch (application/merge-patch+json). */
  mergePatchCustom(group: string, version: string, namespace: string, plural: string, name: string, body: unknown): Promise<K8sObject>
}

/** Where the API server is and how to authenticate: what a kubeconfig context or the in-cluster account gives. */
export interface KubeConnection {
  server: string
  token?: string | undefined
  ca?: string | undefined
  cert?: string | undefined
  key?: string | undefined
  insecureSkipTlsVerify?: boolean
  /** Default namespace of the context (or the pod's). */
  namespace?: string | undefined
}

interface KubeConfigFile {
  'current-context'?: string
  contexts?: Array<{ name: string; context: { cluster: string; user: string; namespace?: string } }>
  clusters?: Array<{ name: string; cluster: { server: string; 'certificate-authority'?: string; 'certificate-authority-data'?: string; 'insecure-skip-tls-verify'?: boolean } }>
  users?: Array<{ name: string; user: { token?: string; tokenFile?: string; 'client-certificate'?: string; 'client-certificate-data'?: string; 'client-key'?: string; 'client-key-data'?: string; exec?: unknown; 'auth-provider'?: unknown } }>
}

function fileOrData (file: string | undefined, data: string | undefined): string | undefined {
  if (data !== undefined) return Buffer.from(data, 'base64').toString('utf8')
  if (file !== undefined) return readFileSync(file, 'utf8')
  return undefined
}

/**
 * Reads a kubeconfig file: the named context (else current-context), its cluster (server, CA or
 * insecure-skip-tls-verify) and user (token, tokenFile, client certificate and key). exec and auth-provider
 * users are not supported by this reader (use a token), and relative file paths resolve against the cwd.
 */
export function connectionFromKubeconfig (path: string, contextName?: string): KubeConnection {
  let cfg: KubeConfigFile
  try {
    cfg = parseYaml(readFileSync(path, 'utf8')) as KubeConfigFile
  } catch (err) {
    throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `cannot read kubeconfig ${path}: ${(err as Error).message}`, { cause: err })
  }
  const name = contextName ?? cfg['current-context']
  const ctx = cfg.contexts?.find((c) => c.name === name)
  if (ctx === undefined) throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `kubeconfig ${path}: no context "${String(name)}"`)
  const cluster = cfg.clusters?.find((c) => c.name === ctx.context.cluster)?.cluster
  const user = cfg.users?.find((u) => u.name === ctx.context.user)?.user
  if (cluster === undefined) throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `kubeconfig ${path}: context ${String(name)} names no known cluster "${ctx.context.cluster}"`)
  if (user?.exec !== undefined || user?.['auth-provider'] !== undefined) {
    throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `kubeconfig ${path}: user "${ctx.context.user}" uses exec/auth-provider credentials, which iotless prefetch does not run; use a token (a ServiceAccount token) or client certificates`)
  }
  const token = user?.token ?? (user?.tokenFile === undefined ? undefined : readFileSync(user.tokenFile, 'utf8').trim())
  return {
    server: cluster.server,
    token,
    ca: fileOrData(cluster['certificate-authority'], cluster['certificate-authority-data']),
    cert: fileOrData(user?.['client-certificate'], user?.['client-certificate-data']),
    key: fileOrData(user?.['client-key'], user?.['client-key-data']),
    insecureSkipTlsVerify: cluster['insecure-skip-tls-verify'] === true,
    namespace: ctx.context.namespace
  }
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/** In a pod: KUBERNETES_SERVICE_HOST/PORT and the mounted ServiceAccount token, CA and namespace. */
export function inClusterConnection (env: NodeJS.ProcessEnv, dir = SERVICE_ACCOUNT_DIR): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST
  const port = env.KUBERNETES_SERVICE_PORT ?? '443'
  if (host === undefined || host === '') throw new IotlessError('PREFETCH_ACTUATOR_FAILED', 'not in a cluster: KUBERNETES_SERVICE_HOST is unset; pass --kubeconfig')
  const read = (f: string): string => readFileSync(`${dir}/${f}`, 'utf8')
  return {
    server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
    token: read('token').trim(),
    ca: read('ca.crt'),
    namespace: read('namespace').trim()
  }
}

/** The Kubernetes REST API over undici, with the kubeconfig's or the pod's credentials. */
export class RestKubeApi implements KubeApi {
  readonly kind = 'rest'
  readonly #conn: KubeConnection
  readonly #agent: Agent

  constructor (conn: KubeConnection) {
    this.#conn = conn
    this.#agent = new Agent({
      connect: {
        ...(conn.ca === undefined ? {} : { ca: conn.ca }),
        ...(conn.cert === undefined ? {} : { cert: conn.cert }),
        ...(conn.key === undefined ? {} : { key: conn.key }),
        rejectUnauthorized: conn.insecureSkipTlsVerify !== true
      }
    })
  }

  async #call (method: 'GET' | 'PATCH', path: string, body?: unknown): Promise<K8sObject> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (this.#conn.token !== undefined) headers.authorization = `Bearer ${this.#conn.token}`
    if (body !== undefined) headers['content-type'] = 'application/merge-patch+json'
    const res = await request(this.#conn.server.replace(/\/$/, '') + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      dispatcher: this.#agent,
      headersTimeout: 10_000,
      bodyTimeout: 10_000
    })
    const text = await res.body.text()
    if (res.statusCode >= 300) {
      let message = text.slice(0, 300)
      try { message = (JSON.parse(text) as { message?: string }).message ?? message } catch { /* not JSON */ }
      throw new KubeApiError(res.statusCode, `HTTP ${res.statusCode}: ${message}`)
    }
    return JSON.parse(text) as K8sObject
  }

  readNamespace (name: string): Promise<K8sObject> { return this.#call('GET', `/api/v1/namespaces/${enc(name)}`) }
  getCustom (group: string, version: string, namespace: string, plural: string, name: string): Promise<K8sObject> {
    return this.#call('GET', `/apis/${group}/${version}/namespaces/${enc(namespace)}/${plural}/${enc(name)}`)
  }

  mergePatchCustom (group: string, version: string, namespace: string, plural: string, name: string, body: unknown): Promise<K8sObject> {
    return this.#call('PATCH', `/apis/${group}/${version}/namespaces/${enc(namespace)}/${plural}/${enc(name)}`, body)
  }

  close (): Promise<void> { return this.#agent.close() }
}

function enc (s: string): string { return encodeURIComponent(s) }
