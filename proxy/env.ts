import { IotlessError } from '../core/errors.js'
import { DEFAULT_CERT_DIR, readTlsSettings, type TlsSettings } from './h2/tlsEnv.js'
import { readObservabilityEnv, type ObservabilitySettings } from './observabilityEnv.js'

/**
 * The queue-proxy environment contract, read once, checked, and frozen.
 *
 * The variable set is what knative/serving pkg/reconciler/revision/resources/queue.go (makeQueueContainer)
 * injects; which ones are required follows the `required:"true"` tags of pkg/queue/sharedmain/main.go
 * (Go's envconfig exits when one is unset, and so do we: serving#13377 is what a missing one looks like).
 * Variables this table does not name are ignored, so a newer reconciler that adds one does not stop us.
 *
 * The IOTLESS_PROXY_* variables are ours. Knative never sets them; they exist so tests (and operators
 * with unusual pods) can move the fixed ports and shorten the drain timings.
 */

/** One user-container readiness check, from SERVING_READINESS_PROBE (a corev1.Probe). */
export interface ReadinessCheck {
  kind: 'tcp' | 'http' | 'grpc'
  host: string
  port: number
  /** HTTP only. */
  path: string
  scheme: 'http' | 'https'
  headers: ReadonlyArray<readonly [string, string]>
  /** gRPC only: the service name sent in grpc.health.v1.HealthCheckRequest ('' = the whole server). */
  service: string
}

export interface ReadinessProbeConfig {
  /** Every check must pass (a JSON array when multi-container probing is on). */
  checks: readonly ReadinessCheck[]
  /** 0 selects Knative's aggressive mode (pkg/queue/readiness/probe.go): retry every 50 ms for up to 10 s. */
  periodSeconds: number
  /** Per-attempt timeout outside aggressive mode; Kubernetes defaults timeoutSeconds to 1. */
  timeoutMs: number
  successThreshold: number
}

export interface ProxyEnv {
  servingNamespace: string
  servingService: string
  servingConfiguration: string
  servingRevision: string
  servingPod: string
  servingPodIp: string
  queueServingPort: number
  queueServingTlsPort: number
  userPort: number
  /** 0 = no limit (Knative: no breaker at all). */
  containerConcurrency: number
  revisionTimeoutMs: number
  /** 0 = off. */
  responseStartTimeoutMs: number
  /** 0 = off. */
  idleTimeoutMs: number
  loggingLevel: string
  readinessProbe: ReadinessProbeConfig
  enableHttpFullDuplex: boolean
  enableMultiContainerProbes: boolean
  /** HTTP readiness probes first try an h2c upgrade, and speak HTTP/2 to a container that takes it (serving health.HTTPProbe). */
  enableHttp2AutoDetection: boolean
  /** Tracing (off unless Knative's observability config asks for it) and the profiling server. */
  observability: ObservabilitySettings
  /** Ours: where the extra servers listen, and drain timings. */
  adminPort: number
  statsPort: number
  userMetricsPort: number
  bindHost: string
  userHost: string
  drainQuietPeriodMs: number
  /** Knative: hijackDrainDuration = 60 s in sharedmain/main.go. */
  upgradeGraceMs: number
  /** Knative resets the drainer if no SIGTERM follows /wait-for-drain within 1 s (sharedmain/main.go adminHandler). */
  drainResetMs: number
  maxHeaderBytes: number
  /** How long a client may take to send one request head before we close it (slowloris bound). */
  headerTimeoutMs: number
  /** An idle keep-alive client connection is closed after this; 0 = never (Knative's queue-proxy sets no IdleTimeout). */
  keepAliveIdleMs: number
  /** How long a pooled idle upstream connection is kept; below Node's 5 s keepAliveTimeout so we close first. */
  upstreamIdleMs: number
  /** HTTP/2 connections idle this long are PINGed, and closed when the PING goes unanswered as long. */
  h2PingMs: number
  /** Who frames HTTP/2 with prior knowledge on the serving port: 'relay' (h2/relay/, no node:http2) or 'node' (node:http2). */
  h2Engine: 'relay' | 'node'
  /** The TLS port's settings; it runs only when both files exist at start (as in Knative). */
  tls: TlsSettings
  /** Accept every queued connection per event-loop turn with the native helper (proxy/multiAccept.ts). */
  multiAccept: boolean
}

type Env = Readonly<Record<string, string | undefined>>

/** Every variable, for docs and for tests that check the table is complete. */
export const REQUIRED_ENV = [
  'SERVING_NAMESPACE', 'SERVING_CONFIGURATION', 'SERVING_REVISION', 'QUEUE_SERVING_PORT', 'QUEUE_SERVING_TLS_PORT',
  'CONTAINER_CONCURRENCY', 'REVISION_TIMEOUT_SECONDS', 'SERVING_POD', 'SERVING_POD_IP', 'SERVING_LOGGING_CONFIG',
  'SERVING_LOGGING_LEVEL', 'USER_PORT'
] as const

export const OPTIONAL_ENV = [
  'SERVING_SERVICE', 'REVISION_RESPONSE_START_TIMEOUT_SECONDS', 'REVISION_IDLE_TIMEOUT_SECONDS', 'SYSTEM_NAMESPACE',
  'SERVING_READINESS_PROBE', 'HOST_IP', 'ENABLE_HTTP2_AUTO_DETECTION', 'ENABLE_HTTP_FULL_DUPLEX', 'ROOT_CA',
  'ENABLE_MULTI_CONTAINER_PROBES', 'OBSERVABILITY_CONFIG', 'QUEUE_PROXY_TLS_MIN_VERSION', 'QUEUE_PROXY_TLS_MAX_VERSION',
  'QUEUE_PROXY_TLS_CIPHER_SUITES', 'QUEUE_PROXY_TLS_CURVE_PREFERENCES',
  // Knative ≤ 1.18 (v1.12's sharedmain) tracing and profiling; ≥ 1.19 carries them in OBSERVABILITY_CONFIG.
  'TRACING_CONFIG_BACKEND', 'TRACING_CONFIG_ZIPKIN_ENDPOINT', 'TRACING_CONFIG_SAMPLE_RATE', 'TRACING_CONFIG_DEBUG',
  'ENABLE_PROFILING', 'PROFILING_PORT',
  'OTEL_SDK_DISABLED', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG', 'OTEL_SERVICE_NAME', 'OTEL_BSP_MAX_QUEUE_SIZE', 'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT'
] as const

export const IOTLESS_ENV = {
  IOTLESS_PROXY_ADMIN_PORT: 'admin server (/wait-for-drain), default 8022',
  IOTLESS_PROXY_STATS_PORT: 'autoscaler stats server (/metrics, protobuf), default 9090',
  IOTLESS_PROXY_USER_METRICS_PORT: 'user metrics (Prometheus text), default 9091',
  IOTLESS_PROXY_BIND_HOST: 'address every server binds, default 0.0.0.0 (tests use 127.0.0.1)',
  IOTLESS_PROXY_USER_HOST: 'user container address, default 127.0.0.1',
  IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS: 'drain quiet period, default 30000 (Knative network.DefaultDrainTimeout)',
  IOTLESS_PROXY_UPGRADE_GRACE_MS: 'grace for upgraded (WebSocket) connections after close, default 60000',
  IOTLESS_PROXY_DRAIN_RESET_MS: 'un-drain if no SIGTERM follows /wait-for-drain within this, default 1000',
  IOTLESS_PROXY_MAX_HEADER_BYTES: 'largest request head accepted, default 1052672 (Go\'s 1 MiB DefaultMaxHeaderBytes + 4096, as queue-proxy); larger gets 431 and close',
  IOTLESS_PROXY_HEADER_TIMEOUT_MS: 'time allowed to send one request head, from the accept or the head\'s first byte, default 60000 (queue-proxy\'s ReadHeaderTimeout)',
  IOTLESS_PROXY_KEEPALIVE_IDLE_MS: 'an idle keep-alive client connection is closed after this, default 120000 (above the 90 s idle timeout of Go clients such as the activator); 0 = never',
  IOTLESS_PROXY_UPSTREAM_IDLE_MS: 'idle upstream keep-alive connections are closed after this, default 4000',
  IOTLESS_PROXY_H2_PING_MS: 'an HTTP/2 connection idle this long is sent a PING and closed if it is not answered within as long, default 10000',
  IOTLESS_PROXY_H2_ENGINE: 'relay or node: what frames HTTP/2 with prior knowledge on the serving port, default relay (proxy/h2/relay/, without node:http2); the h2c upgrade and TLS use node:http2 either way',
  IOTLESS_PROXY_CERT_DIR: 'where tls.crt and tls.key are looked for, default /var/lib/knative/certs (TLS on QUEUE_SERVING_TLS_PORT when both exist)',
  IOTLESS_PROXY_MULTI_ACCEPT: 'true (default) or false: accept every connection already queued on the serving and TLS ports in each event-loop turn, with the native helper proxy/native/acceptPending.c (Node accepts one per turn, so a burst of new connections waits unread while the proxy is busy); false, or a build without the helper, accepts as Node does',
  IOTLESS_PROXY_CERT_RELOAD_MS: 'how often the certificate files are re-read for rotation, default 60000 (a change seen by a directory watch reloads sooner)'
} as const

function required (env: Env, name: string): string {
  const v = env[name]
  if (v === undefined) {
    throw new IotlessError('PROXY_ENV_MISSING', `required environment variable ${name} is not set (the Knative revision reconciler injects it; see docs/proxy.md)`)
  }
  return v
}

function int (name: string, raw: string, min: number, max: number): number {
  const s = raw.trim()
  if (!/^-?\d+$/.test(s)) throw new IotlessError('PROXY_ENV_INVALID', `${name}=${JSON.stringify(raw)} is not an integer`)
  const n = Number(s)
  if (n < min || n > max) throw new IotlessError('PROXY_ENV_INVALID', `${name}=${s} is out of range [${min}, ${max}]`)
  return n
}

function optInt (env: Env, name: string, dflt: number, min: number, max: number): number {
  const v = env[name]
  if (v === undefined || v.trim() === '') return dflt
  return int(name, v, min, max)
}

function bool (env: Env, name: string, dflt = false): boolean {
  const v = env[name]
  if (v === undefined || v === '') return dflt
  // Go's strconv.ParseBool, which envconfig uses.
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false
  throw new IotlessError('PROXY_ENV_INVALID', `${name}=${JSON.stringify(v)} is not a boolean`)
}

const PORT_MAX = 65535

function h2Engine (raw: string | undefined): 'relay' | 'node' {
  const v = raw === undefined ? '' : raw.trim()
  if (v === '') return 'relay'
  if (v === 'relay' || v === 'node') return v
  throw new IotlessError('PROXY_ENV_INVALID', `IOTLESS_PROXY_H2_ENGINE=${JSON.stringify(raw)} is not relay or node`)
}

export function readProxyEnv (env: Env): ProxyEnv {
  // Check every required variable first so the message names the first one missing, in table order.
  for (const name of REQUIRED_ENV) required(env, name)
  const userPort = int('USER_PORT', required(env, 'USER_PORT'), 1, PORT_MAX)
  const userHost = env.IOTLESS_PROXY_USER_HOST ?? '127.0.0.1'
  const cfg: ProxyEnv = {
    servingNamespace: required(env, 'SERVING_NAMESPACE'),
    servingService: env.SERVING_SERVICE ?? '',
    servingConfiguration: required(env, 'SERVING_CONFIGURATION'),
    servingRevision: required(env, 'SERVING_REVISION'),
    servingPod: required(env, 'SERVING_POD'),
    servingPodIp: required(env, 'SERVING_POD_IP'),
    // Port 0 is accepted so tests can ask the kernel for a free port.
    queueServingPort: int('QUEUE_SERVING_PORT', required(env, 'QUEUE_SERVING_PORT'), 0, PORT_MAX),
    queueServingTlsPort: int('QUEUE_SERVING_TLS_PORT', required(env, 'QUEUE_SERVING_TLS_PORT'), 0, PORT_MAX),
    userPort,
    containerConcurrency: int('CONTAINER_CONCURRENCY', required(env, 'CONTAINER_CONCURRENCY'), 0, 1_000_000),
    revisionTimeoutMs: int('REVISION_TIMEOUT_SECONDS', required(env, 'REVISION_TIMEOUT_SECONDS'), 0, 86_400) * 1000,
    responseStartTimeoutMs: optInt(env, 'REVISION_RESPONSE_START_TIMEOUT_SECONDS', 0, 0, 86_400) * 1000,
    idleTimeoutMs: optInt(env, 'REVISION_IDLE_TIMEOUT_SECONDS', 0, 0, 86_400) * 1000,
    loggingLevel: required(env, 'SERVING_LOGGING_LEVEL'),
    readinessProbe: parseReadinessProbe(env.SERVING_READINESS_PROBE, userHost, userPort),
    enableHttpFullDuplex: bool(env, 'ENABLE_HTTP_FULL_DUPLEX'),
    enableMultiContainerProbes: bool(env, 'ENABLE_MULTI_CONTAINER_PROBES'),
    enableHttp2AutoDetection: bool(env, 'ENABLE_HTTP2_AUTO_DETECTION'),
    observability: readObservabilityEnv(env),
    adminPort: optInt(env, 'IOTLESS_PROXY_ADMIN_PORT', 8022, 0, PORT_MAX),
    statsPort: optInt(env, 'IOTLESS_PROXY_STATS_PORT', 9090, 0, PORT_MAX),
    userMetricsPort: optInt(env, 'IOTLESS_PROXY_USER_METRICS_PORT', 9091, 0, PORT_MAX),
    bindHost: env.IOTLESS_PROXY_BIND_HOST ?? '0.0.0.0',
    userHost,
    drainQuietPeriodMs: optInt(env, 'IOTLESS_PROXY_DRAIN_QUIET_PERIOD_MS', 30_000, 0, 3_600_000),
    upgradeGraceMs: optInt(env, 'IOTLESS_PROXY_UPGRADE_GRACE_MS', 60_000, 0, 3_600_000),
    drainResetMs: optInt(env, 'IOTLESS_PROXY_DRAIN_RESET_MS', 1000, 0, 3_600_000),
    maxHeaderBytes: optInt(env, 'IOTLESS_PROXY_MAX_HEADER_BYTES', 1_048_576 + 4096, 1024, 16 * 1024 * 1024),
    headerTimeoutMs: optInt(env, 'IOTLESS_PROXY_HEADER_TIMEOUT_MS', 60_000, 1, 3_600_000),
    keepAliveIdleMs: optInt(env, 'IOTLESS_PROXY_KEEPALIVE_IDLE_MS', 120_000, 0, 86_400_000),
    upstreamIdleMs: optInt(env, 'IOTLESS_PROXY_UPSTREAM_IDLE_MS', 4000, 1, 3_600_000),
    h2PingMs: optInt(env, 'IOTLESS_PROXY_H2_PING_MS', 10_000, 10, 3_600_000),
    h2Engine: h2Engine(env.IOTLESS_PROXY_H2_ENGINE),
    tls: readTlsSettings(env, env.IOTLESS_PROXY_CERT_DIR ?? DEFAULT_CERT_DIR, optInt(env, 'IOTLESS_PROXY_CERT_RELOAD_MS', 60_000, 10, 86_400_000)),
    multiAccept: bool(env, 'IOTLESS_PROXY_MULTI_ACCEPT', true)
  }
  return Object.freeze(cfg)
}

interface ProbeJson {
  tcpSocket?: { port?: number | string; host?: string }
  httpGet?: { port?: number | string; host?: string; path?: string; scheme?: string; httpHeaders?: Array<{ name?: string; value?: string }> }
  grpc?: { port?: number | string; service?: string }
  exec?: unknown
  timeoutSeconds?: number
  periodSeconds?: number
  successThreshold?: number
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function probePort (raw: number | string | undefined, userPort: number): number {
  if (typeof raw === 'number' && Number.isInteger(raw) && raw > 0 && raw <= PORT_MAX) return raw
  if (typeof raw === 'string' && /^\d+$/.test(raw)) {
    const n = Number(raw)
    if (n > 0 && n <= PORT_MAX) return n
  }
  // Named or absent ports: the reconciler resolves named ports before injecting, so this is the
  // webhook's default, the user port (pkg/apis/serving/v1/revision_defaults.go).
  return userPort
}

/**
 * Parses SERVING_READINESS_PROBE. Unset or empty means the webhook default, a TCP check on the user port.
 * Exec probes are the kubelet's (the reconciler gives the queue-proxy a TCP check instead, our fallback here);
 * gRPC ones call grpc.health.v1.Health/Check.
 */
export function parseReadinessProbe (raw: string | undefined, userHost: string, userPort: number): ReadinessProbeConfig {
  const fallback: ReadinessCheck = { kind: 'tcp', host: userHost, port: userPort, path: '/', scheme: 'http', headers: [], service: '' }
  if (raw === undefined || raw.trim() === '') {
    return { checks: [fallback], periodSeconds: 0, timeoutMs: 1000, successThreshold: 1 }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(raw)
  } catch (err) {
    throw new IotlessError('PROXY_ENV_INVALID', `SERVING_READINESS_PROBE is not JSON: ${(err as Error).message}`)
  }
  const list: unknown[] = Array.isArray(parsed) ? parsed : [parsed]
  if (list.length === 0 || !list.every(isObject)) {
    throw new IotlessError('PROXY_ENV_INVALID', 'SERVING_READINESS_PROBE must be a corev1.Probe object or a non-empty array of them')
  }
  const probes = list as ProbeJson[]
  const checks: ReadinessCheck[] = probes.map((p) => {
    if (p.httpGet !== undefined) {
      const scheme = (p.httpGet.scheme ?? 'HTTP').toLowerCase()
      if (scheme !== 'http' && scheme !== 'https') throw new IotlessError('PROXY_ENV_INVALID', `SERVING_READINESS_PROBE httpGet.scheme ${JSON.stringify(p.httpGet.scheme)} is not HTTP or HTTPS`)
      const headers = (p.httpGet.httpHeaders ?? []).map((h) => [String(h.name ?? ''), String(h.value ?? '')] as const)
      return {
        kind: 'http',
        host: p.httpGet.host !== undefined && p.httpGet.host !== '' ? p.httpGet.host : userHost,
        port: probePort(p.httpGet.port, userPort),
        path: p.httpGet.path !== undefined && p.httpGet.path !== '' ? (p.httpGet.path.startsWith('/') ? p.httpGet.path : '/' + p.httpGet.path) : '/',
        scheme,
        headers,
        service: ''
      }
    }
    if (p.tcpSocket !== undefined) {
      return { kind: 'tcp', host: p.tcpSocket.host !== undefined && p.tcpSocket.host !== '' ? p.tcpSocket.host : userHost, port: probePort(p.tcpSocket.port, userPort), path: '/', scheme: 'http', headers: [], service: '' }
    }
    if (p.grpc !== undefined) {
      // serving pkg/queue/health/probe.go GRPCProbe: grpc.health.v1.Health/Check on 127.0.0.1 (the user host here).
      if (p.grpc.service !== undefined && typeof p.grpc.service !== 'string') throw new IotlessError('PROXY_ENV_INVALID', 'SERVING_READINESS_PROBE grpc.service must be a string')
      return { ...fallback, kind: 'grpc', port: probePort(p.grpc.port, userPort), service: p.grpc.service ?? '' }
    }
    return fallback
  })
  const first = probes[0] as ProbeJson
  const num = (v: unknown, name: string, dflt: number): number => {
    if (v === undefined) return dflt
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new IotlessError('PROXY_ENV_INVALID', `SERVING_READINESS_PROBE ${name} must be a number >= 0`)
    return v
  }
  const timeoutSeconds = num(first.timeoutSeconds, 'timeoutSeconds', 1)
  return {
    checks,
    periodSeconds: num(first.periodSeconds, 'periodSeconds', 0),
    timeoutMs: (timeoutSeconds === 0 ? 1 : timeoutSeconds) * 1000,
    successThreshold: Math.max(1, num(first.successThreshold, 'successThreshold', 1))
  }
}
