import { IotlessError } from '../core/errors.js'
import type { OtelSettings } from '../core/tracing/otelTracer.js'

/**
 * Tracing and profiling settings, read the way Knative hands them to its queue-proxy:
 *
 * - Knative ≥ 1.19 (knative/serving pkg/queue/sharedmain/main.go): `OBSERVABILITY_CONFIG`, the JSON of
 *   pkg/observability.Config, whose `tracing` is knative/pkg observability/tracing.Config
 *   (`protocol`: none | http/protobuf | grpc | stdout, `endpoint`, `samplingRate`) and whose `runtime.profiling`
 *   is `enabled` or `disabled`.
 * - Knative ≤ 1.18 (v1.12's sharedmain): `TRACING_CONFIG_BACKEND` (none | zipkin), `TRACING_CONFIG_ZIPKIN_ENDPOINT`,
 *   `TRACING_CONFIG_SAMPLE_RATE`, and `ENABLE_PROFILING`.
 * - OpenTelemetry's variables on top, as knative/pkg observability/tracing/provider.go reads them:
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT replace the endpoint, OTEL_TRACES_SAMPLER and
 *   OTEL_TRACES_SAMPLER_ARG the sampling, OTEL_SERVICE_NAME the service name; OTEL_SDK_DISABLED=true turns it off.
 *   They never turn tracing on by themselves: with protocol `none` Knative installs a no-op provider.
 *
 * iotless exports OTLP over HTTP (core/tracing, JSON encoding, which every OTLP/HTTP receiver takes beside
 * protobuf). `grpc` and `stdout`, and the old `zipkin` backend, are not exported: tracing stays off and
 * `notes` says why, so start-up can log it once.
 */
export interface ObservabilitySettings {
  /** null: tracing off (the default), and nothing of the SDK is loaded. */
  tracing: OtelSettings | null
  /** Why tracing is off although something asked for it; logged once at start. */
  notes: string[]
  /** The profiling server (Knative's port 8008), off unless asked for. */
  profiling: { enabled: boolean; port: number }
}

type Env = Readonly<Record<string, string | undefined>>

const PROFILING_PORT_DEFAULT = 8008

function invalid (name: string, what: string): IotlessError {
  return new IotlessError('PROXY_ENV_INVALID', `${name}: ${what}`)
}

function rate (name: string, v: unknown): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) throw invalid(name, `sampling rate ${JSON.stringify(v)} is not a number in [0, 1]`)
  return n
}

function goBool (name: string, v: string | undefined): boolean {
  if (v === undefined || v === '') return false
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false
  throw invalid(name, `${JSON.stringify(v)} is not a boolean`)
}

interface ObservabilityJson {
  tracing?: { protocol?: unknown; endpoint?: unknown; samplingRate?: unknown }
  runtime?: { profiling?: unknown }
}

function parseObservabilityConfig (raw: string | undefined): ObservabilityJson {
  if (raw === undefined || raw.trim() === '') return {}
  let v: unknown
  try {
    v = JSON.parse(raw)
  } catch (err) {
    // sharedmain: logger.Fatal("failed to parse OBSERVABILITY_CONFIG").
    throw invalid('OBSERVABILITY_CONFIG', `not JSON (${(err as Error).message})`)
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('OBSERVABILITY_CONFIG', 'not a JSON object')
  return v as ObservabilityJson
}

/** The OTLP/HTTP traces URL for a Knative `endpoint`: a bare host:port gets a scheme, a URL without a path gets /v1/traces. */
export function tracesUrl (endpoint: string): string {
  let ep = endpoint.trim()
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(ep)) ep = 'http://' + ep
  const u = new URL(ep)
  if (u.pathname === '' || u.pathname === '/') u.pathname = '/v1/traces'
  return u.toString()
}

export function readObservabilityEnv (env: Env): ObservabilitySettings {
  const cfg = parseObservabilityConfig(env.OBSERVABILITY_CONFIG)
  const notes: string[] = []

  // Profiling: runtime.profiling (≥ 1.19) or ENABLE_PROFILING (≤ 1.18); PROFILING_PORT as knative/pkg profiling.
  const prof = cfg.runtime?.profiling
  if (prof !== undefined && prof !== 'enabled' && prof !== 'disabled') throw invalid('OBSERVABILITY_CONFIG', `runtime.profiling ${JSON.stringify(prof)} is not "enabled" or "disabled"`)
  const profilingEnabled = prof === 'enabled' || goBool('ENABLE_PROFILING', env.ENABLE_PROFILING)
  let profilingPort = PROFILING_PORT_DEFAULT
  const pp = env.PROFILING_PORT
  if (pp !== undefined && pp.trim() !== '') {
    if (!/^\d+$/.test(pp.trim()) || Number(pp) > 65535) throw invalid('PROFILING_PORT', `${JSON.stringify(pp)} is not a port`)
    profilingPort = Number(pp)
  }
  const profiling = { enabled: profilingEnabled, port: profilingPort }

  // Which backend asked for tracing, and where to.
  let protocol = 'none'
  let endpoint = ''
  let sampleRatio = 0
  const t = cfg.tracing
  if (t !== undefined && t.protocol !== undefined && t.protocol !== '') {
    if (typeof t.protocol !== 'string' || !['none', 'http/protobuf', 'grpc', 'stdout'].includes(t.protocol)) {
      // knative/pkg tracing.NewTracerProvider fails on it, and the queue-proxy exits.
      throw invalid('OBSERVABILITY_CONFIG', `tracing.protocol ${JSON.stringify(t.protocol)} is not one of none, http/protobuf, grpc, stdout`)
    }
    protocol = t.protocol
    endpoint = typeof t.endpoint === 'string' ? t.endpoint : ''
    if (t.samplingRate !== undefined) sampleRatio = rate('OBSERVABILITY_CONFIG tracing.samplingRate', t.samplingRate)
  } else {
    const backend = (env.TRACING_CONFIG_BACKEND ?? '').trim().toLowerCase()
    if (backend !== '' && backend !== 'none') {
      protocol = backend
      endpoint = env.TRACING_CONFIG_ZIPKIN_ENDPOINT ?? ''
      if (env.TRACING_CONFIG_SAMPLE_RATE !== undefined && env.TRACING_CONFIG_SAMPLE_RATE !== '') sampleRatio = rate('TRACING_CONFIG_SAMPLE_RATE', env.TRACING_CONFIG_SAMPLE_RATE)
    }
  }
  if (protocol === 'none') return { tracing: null, notes, profiling }
  if ((env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true') {
    notes.push(`tracing (${protocol}) is off: OTEL_SDK_DISABLED=true`)
    return { tracing: null, notes, profiling }
  }
  const override = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== undefined && env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT !== ''
    ? env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
    : env.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined && env.OTEL_EXPORTER_OTLP_ENDPOINT !== ''
      ? env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '') + '/v1/traces'
      : undefined
  if (protocol !== 'http/protobuf') {
    const what = protocol === 'zipkin' ? 'the zipkin backend (TRACING_CONFIG_BACKEND)' : `tracing protocol ${protocol}`
    notes.push(`tracing is off: ${what} is not supported, iotless exports OTLP over HTTP only (set tracing.protocol to http/protobuf in config-observability)`)
    return { tracing: null, notes, profiling }
  }
  let url: string
  try {
    url = override ?? tracesUrl(endpoint === '' ? 'http://localhost:4318' : endpoint)
    void new URL(url)
  } catch {
    throw invalid(override === undefined ? 'OBSERVABILITY_CONFIG' : 'OTEL_EXPORTER_OTLP_ENDPOINT', `tracing endpoint ${JSON.stringify(override ?? endpoint)} is not a URL`)
  }
  // knative/pkg sampleFor: OTEL_TRACES_SAMPLER_ARG replaces the rate; OTEL_TRACES_SAMPLER chooses the sampler.
  const sampler = (env.OTEL_TRACES_SAMPLER ?? '').trim().toLowerCase()
  if (sampler === 'always_on' || sampler === 'parentbased_always_on') sampleRatio = 1
  else if (sampler === 'always_off' || sampler === 'parentbased_always_off') sampleRatio = 0
  else if (env.OTEL_TRACES_SAMPLER_ARG !== undefined && env.OTEL_TRACES_SAMPLER_ARG !== '') sampleRatio = rate('OTEL_TRACES_SAMPLER_ARG', env.OTEL_TRACES_SAMPLER_ARG)
  const num = (name: string, dflt: number): number => {
    const v = env[name]
    if (v === undefined || v.trim() === '') return dflt
    if (!/^\d+$/.test(v.trim()) || Number(v) < 1) throw invalid(name, `${JSON.stringify(v)} is not a positive integer`)
    return Number(v)
  }
  // sharedmain/otel.go res(): the first of these that is set.
  const serviceName = [env.OTEL_SERVICE_NAME, env.SERVING_SERVICE, env.SERVING_CONFIGURATION, env.SERVING_REVISION, env.SERVING_POD].find((s) => s !== undefined && s !== '') ?? 'queue-proxy'
  return {
    tracing: {
      endpoint: url,
      sampleRatio,
      serviceName,
      maxQueueSize: num('OTEL_BSP_MAX_QUEUE_SIZE', 2048),
      exportTimeoutMs: num('OTEL_EXPORTER_OTLP_TRACES_TIMEOUT', 10_000),
      scheduledDelayMs: num('OTEL_BSP_SCHEDULE_DELAY', 5000)
    },
    notes,
    profiling
  }
}
