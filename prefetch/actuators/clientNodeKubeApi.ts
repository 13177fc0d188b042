import type { K8sObject, KubeApi, KubeConnection } from './kubeApi.js'
import { KubeApiError } from './kubeApi.js'

/**
 * KubeApi over @kubernetes/client-node 2 (CoreV1Api, AppsV1Api, CustomObjectsApi; merge patches through
 * setHeaderOptions('Content-Type', PatchStrategy.MergePatch)). client-node 2.0 bundles undici 8, which needs
 * Node >= 22.19, so it is imported on demand: on older Node, `loadClientNodeKubeApi` rejects and callers use
 * RestKubeApi. `kubeconfig`: a file, or undefined for the in-cluster account.
 */
export async function loadClientNodeKubeApi (source: { kubeconfig?: string | undefined; context?: string | undefined } | { connection: KubeConnection }): Promise<KubeApi> {
  if (!clientNodeSupported()) {
    // Importing it anyway fails inside undici 8 with an unhandled rejection besides the thrown error.
    throw new Error(`@kubernetes/client-node 2 needs Node >= 22.19 (it bundles undici 8); this is Node ${process.versions.node}`)
  }
  const k8s = await import('@kubernetes/client-node')
  const kc = new k8s.KubeConfig()
  if ('connection' in source) {
    const c = source.connection
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: c.server, skipTLSVerify: c.insecureSkipTlsVerify === true, ...(c.ca === undefined ? {} : { caData: Buffer.from(c.ca).toString('base64') }) }],
      users: [{ name: 'u', ...(c.token === undefined ? {} : { token: c.token }) }],
      contexts: [{ name: 'c', cluster: 'c', user: 'u' }],
      currentContext: 'c'
    })
  } else if (source.kubeconfig !== undefined) {
    kc.loadFromFile(source.kubeconfig)
    if (source.context !== undefined) kc.setCurrentContext(source.context)
  } else {
    kc.loadFromCluster()
  }
  const core = kc.makeApiClient(k8s.CoreV1Api)
  const custom = kc.makeApiClient(k8s.CustomObjectsApi)
  const wrap = async <T>(fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (err) {
      if (err instanceof k8s.ApiException) {
        const body = typeof err.body === 'string' ? err.body : JSON.stringify(err.body)
        let message = body
        try { message = (JSON.parse(body) as { message?: string }).message ?? body } catch { /* not JSON */ }
        throw new KubeApiError(err.code, `HTTP ${err.code}: ${message.slice(0, 300)}`)
      }
      throw err
    }
  }
  return {
    kind: 'client-node',
    readNamespace: (name) => wrap(async () => await core.readNamespace({ name }) as K8sObject),
    getCustom: (group, version, namespace, plural, name) => wrap(async () => await custom.getNamespacedCustomObject({ group, version, namespace, plural, name }) as K8sObject),
    mergePatchCustom: (group, version, namespace, plural, name, body) => wrap(async () => await custom.patchNamespacedCustomObject(
      { group, version, namespace, plural, name, body },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch)
    ) as K8sObject)
  }
}

/** Whether this Node can load @kubernetes/client-node 2 (undici 8: engines node >= 22.19). */
export function clientNodeSupported (version = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number)
  return major > 22 || (major === 22 && minor >= 19)
}

/** Whether @kubernetes/client-node can be found: it is an optional peer dependency of iotless. */
export function clientNodeInstalled (): boolean {
  try {
    import.meta.resolve('@kubernetes/client-node')
    return true
  } catch {
    return false
  }
}
