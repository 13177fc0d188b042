import type { Clock } from '../../core/clock.js'
import { IotlessError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Actuator, LiveDecision } from './actuator.js'
import { TokenBucket } from '../live/tokenBucket.js'
import type { KubeApi } from './kubeApi.js'

/** The annotation the actuator sets (contracts section 5; serving pkg/apis/autoscaling/register.go). */
export const MIN_SCALE_ANNOTATION = 'autoscaling.knative.dev/min-scale'

/** One RBAC rule the actuator needs. `scope`: a cluster-scoped resource, the functions' namespace, or knative-serving. */
export interface RbacRule {
  apiGroup: string
  resource: string
  verbs: readonly string[]
  scope: 'cluster' | 'functions-namespace' | 'knative-serving'
  why: string
}

/**
 * Every Kubernetes API call the Knative actuator makes. k8s/ RBAC is written from this list, and the actuator's
 * test fails when the fake API server sees a request this list does not cover.
 */
export const KNATIVE_ACTUATOR_RBAC: readonly RbacRule[] = Object.freeze([
  { apiGroup: '', resource: 'namespaces', verbs: ['get'], scope: 'cluster', why: 'version detection: labels of the knative-serving namespace' },
  { apiGroup: 'serving.knative.dev', resource: 'services', verbs: ['get'], scope: 'functions-namespace', why: 'status.latestReadyRevisionName of the function\'s Service' },
  { apiGroup: 'serving.knative.dev', resource: 'revisions', verbs: ['get', 'patch'], scope: 'functions-namespace', why: 'read and set min-scale on the Revision (Knative >= 1.21)' },
  { apiGroup: 'autoscaling.internal.knative.dev', resource: 'podautoscalers', verbs: ['get', 'patch'], scope: 'functions-namespace', why: 'read and set min-scale on the PodAutoscaler (Knative <= 1.20)' }
])

export interface KnativeVersion { major: number; minor: number; raw: string; from: string }

/** "1.21.0", "v1.20.3", "knative-v1.21.0" -> { major, minor }; undefined for "devel" and the like. */
export function parseKnativeVersion (raw: string | undefined, from: string): KnativeVersion | undefined {
  if (raw === undefined) return undefined
  const m = /(\d+)\.(\d+)/.exec(raw)
  if (m === null) return undefined
  return { major: Number(m[1]), minor: Number(m[2]), raw, from }
}

/** Since knative-v1.21.0 the revision reconciler copies autoscaling annotations from Revision to PA (contracts section 5). */
export function patchesRevision (v: KnativeVersion): boolean {
  return v.major > 1 || (v.major === 1 && v.minor >= 21)
}

/** Labels that carry the Serving release: app.kubernetes.io/version (1.x manifests), serving.knative.dev/release (older). */
export function versionFromLabels (labels: Readonly<Record<string, string>> | undefined, from: string): KnativeVersion | undefined {
  return parseKnativeVersion(labels?.['app.kubernetes.io/version'], `${from} label app.kubernetes.io/version`) ??
    parseKnativeVersion(labels?.['serving.knative.dev/release'], `${from} label serving.knative.dev/release`)
}

export interface KnativeActuatorOptions {
  /** RestKubeApi (any Node) or loadClientNodeKubeApi (@kubernetes/client-node, Node >= 22.19). */
  api: KubeApi
  /** Namespace of the functions' Knative Services. */
  namespace: string
  clock: Clock
  log: Logger
  /** Knative Service name of a function (default: the same name). */
  serviceFor?: (fn: string) => string
  /** Skip detection: "1.21", "v1.20.0", ... */
  knativeVersion?: string
  /** Where Knative Serving runs (default knative-serving). */
  servingNamespace?: string
  /** At most one patch per function per this many ms (a token bucket of one). Default 30000. */
  minPatchIntervalMs?: number
  /** Upper bound of the min-scale set (default 10). */
  maxMinScale?: number
  /** While a floor is held unchanged, re-read the Service this often to follow a new revision (default 60000). */
  revisionCheckMs?: number
}

interface Remembered { plural: 'revisions' | 'podautoscalers'; name: string; original: string | undefined }

interface FnState {
  bucket: TokenBucket
  /** When the Service's latest ready revision was last read. */
  checkedAt: number
  applied: number | undefined
  object: Remembered | undefined
}

const SERVING = { group: 'serving.knative.dev', version: 'v1' }
const AUTOSCALING = { group: 'autoscaling.internal.knative.dev', version: 'v1alpha1' }

/**
 * Knative actuator: sets `autoscaling.knative.dev/min-scale` to the number of instances the policy wants warm, on
 * the latest ready Revision of the function's Service (Knative >= 1.21) or on its PodAutoscaler, named like the
 * revision (<= 1.20), with JSON merge patches (through a KubeApi: undici REST, or @kubernetes/client-node where it loads). The version comes from the knative-serving namespace's labels, or
 * `knativeVersion`. Patches are rate-limited per function; the first touch of an
 * object records its min-scale, and `close` puts every recorded value back (removing the annotation where there
 * was none). The value set is never below the recorded one; wanting none puts the recorded value back. Lowering min-scale to 0 does not stop pods at once: the KPA scales to zero after its stable window.
 */
export class KnativeActuator implements Actuator {
  readonly kind = 'knative'
  readonly #opts: KnativeActuatorOptions
  readonly #api: KubeApi
  readonly #fns = new Map<string, FnState>()
  #version: Promise<KnativeVersion> | undefined
  #closed = false

  constructor (opts: KnativeActuatorOptions) {
    this.#opts = opts
    this.#api = opts.api
  }

  /** The Serving version in use (detected once; a failed detection is retried next time). */
  version (): Promise<KnativeVersion> {
    this.#version ??= this.#detect().catch((err: unknown) => { this.#version = undefined; throw err })
    return this.#version
  }

  async #detect (): Promise<KnativeVersion> {
    const given = this.#opts.knativeVersion
    if (given !== undefined) {
      const v = parseKnativeVersion(given, '--knative-version')
      if (v === undefined) throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `knative version "${given}" is not like 1.21 or v1.20.0`)
      return v
    }
    const ns = this.#opts.servingNamespace ?? 'knative-serving'
    const tried: string[] = []
    try {
      const n = await this.#api.readNamespace(ns)
      const v = versionFromLabels(n.metadata?.labels, `namespace ${ns}`)
      if (v !== undefined) return v
      tried.push(`namespace ${ns} has no version label`)
    } catch (err) {
      tried.push(`namespace ${ns}: ${describe(err)}`)
    }
    throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `cannot tell the Knative Serving version (${tried.join('; ')}); pass --knative-version`)
  }

  #state (fn: string): FnState {
    let s = this.#fns.get(fn)
    if (s === undefined) {
      s = { bucket: new TokenBucket(1, this.#opts.minPatchIntervalMs ?? 30_000), checkedAt: -Infinity, applied: undefined, object: undefined }
      this.#fns.set(fn, s)
    }
    return s
  }

  async apply (fn: string, d: LiveDecision): Promise<void> {
    if (this.#closed) return
    const s = this.#state(fn)
    const now = this.#opts.clock.now()
    const want = Math.min(this.#opts.maxMinScale ?? 10, d.warm)
    if (d.early && want <= (s.applied ?? 0)) return
    let revision: string | undefined
    if (want === (s.applied ?? 0)) {
      // The value is set (or nothing is wanted and nothing was touched). While a floor is held, follow the
      // Service to a new ready revision now and then: the old one is no longer routed, so its min-scale is moot.
      if (s.object === undefined || want === 0 || now - s.checkedAt < (this.#opts.revisionCheckMs ?? 60_000)) return
      revision = await this.#latestReadyRevision(fn)
      s.checkedAt = now
      if (revision === s.object.name) return
    }
    if (!s.bucket.take(now)) {
      this.#opts.log.debug({ function: fn, minScale: want }, 'knative actuator: patch rate-limited; will try again next minute')
      return
    }
    const version = await this.version()
    const ns = this.#opts.namespace
    revision ??= await this.#latestReadyRevision(fn)
    s.checkedAt = now
    const plural = patchesRevision(version) ? 'revisions' : 'podautoscalers'
    if (s.object !== undefined && (s.object.name !== revision || s.object.plural !== plural)) {
      // A new revision took over: give the old one its value back before touching the new one.
      await this.#restore(s.object)
      s.object = undefined
      s.applied = undefined
    }
    if (s.object === undefined) {
      const obj = await this.#call(`get ${plural} ${ns}/${revision}`, () =>
        this.#api.getCustom(this.#groupOf(plural).group, this.#groupOf(plural).version, ns, plural, revision))
      s.object = { plural, name: revision, original: obj.metadata?.annotations?.[MIN_SCALE_ANNOTATION] }
    }
    // Never below what the user set: the floor is max(policy, original); back at the original, the original is restored.
    const original = s.object.original
    const originalN = original === undefined ? 0 : Number(original)
    const value = Number.isFinite(originalN) && want <= originalN ? (original ?? null) : String(want)
    await this.#patch(plural, revision, value)
    s.applied = want
    this.#opts.log.debug({ function: fn, [plural]: revision, minScale: want }, 'knative actuator: min-scale set')
  }

  async #latestReadyRevision (fn: string): Promise<string> {
    const ns = this.#opts.namespace
    const svcName = this.#opts.serviceFor?.(fn) ?? fn
    const svc = await this.#call(`get services.serving.knative.dev ${ns}/${svcName}`, () =>
      this.#api.getCustom(SERVING.group, SERVING.version, ns, 'services', svcName))
    const revision = svc.status?.latestReadyRevisionName
    if (revision === undefined || revision === '') {
      throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `Knative Service ${ns}/${svcName} has no status.latestReadyRevisionName yet (no ready revision)`)
    }
    return revision
  }

  #groupOf (plural: Remembered['plural']): { group: string; version: string } {
    return plural === 'revisions' ? SERVING : AUTOSCALING
  }

  async #patch (plural: Remembered['plural'], name: string, value: string | null): Promise<void> {
    const ns = this.#opts.namespace
    const g = this.#groupOf(plural)
    await this.#call(`patch ${plural} ${ns}/${name}`, () =>
      this.#api.mergePatchCustom(g.group, g.version, ns, plural, name, { metadata: { annotations: { [MIN_SCALE_ANNOTATION]: value } } }))
  }

  async #restore (o: Remembered): Promise<void> {
    await this.#patch(o.plural, o.name, o.original ?? null)
  }

  async #call<T> (what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `${what}: ${describe(err)}`, { cause: err })
    }
  }

  /** Puts back every min-scale the actuator changed (not rate-limited: it runs once, on exit). */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const failures: string[] = []
    for (const [fn, s] of this.#fns) {
      if (s.object === undefined) continue
      try {
        await this.#restore(s.object)
        this.#opts.log.info({ function: fn, [s.object.plural]: s.object.name, minScale: s.object.original ?? '(none)' }, 'knative actuator: min-scale restored')
      } catch (err) {
        failures.push((err as Error).message)
      }
    }
    if (failures.length > 0) throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `could not restore min-scale: ${failures.join('; ')}`)
  }
}

function describe (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
