import { IotlessError } from '../../core/errors.js'
import { applyEnvOverrides, envLeaves } from '../../core/config/envOverrides.js'
import { configJsonSchema } from '../../core/config/loadConfig.js'
import { applyOtelEnv, DEFAULT_OTLP_TRACES_URL } from '../../core/config/otelEnv.js'
import { configSchema } from '../../core/config/schema.js'
import type { OtelSettings } from '../../core/tracing/otelTracer.js'

/**
 * The handler spans of `iotless fn serve` (a Knative Service or OpenWhisk action container), from the
 * environment: off unless `IOTLESS_TRACING_ENABLED=true` or `OTEL_TRACES_EXPORTER=otlp`; then the
 * `tracing` section's IOTLESS_TRACING_* variables and OpenTelemetry's OTEL_* ones (docs/tracing.md), as
 * for the adapter (the IOTLESS_ ones win). `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` keeps it
 * off. Undefined: off, and no OpenTelemetry module is loaded. A bad value stops start-up naming the variable.
 */
export function serveTracingFromEnv (env: NodeJS.ProcessEnv, fnName: string): OtelSettings | undefined {
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase()
  const raw: Record<string, unknown> = {}
  applyOtelEnv(raw, env)
  const tracingEnv = Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith('IOTLESS_TRACING_')))
  applyEnvOverrides(raw, tracingEnv, envLeaves(configJsonSchema()))
  const r = configSchema.shape.tracing.safeParse(raw.tracing ?? {})
  if (!r.success) {
    const lines = r.error.issues.map((i) => `tracing.${i.path.join('.')}: ${i.message}`)
    throw new IotlessError('CONFIG_ENV_INVALID', `fn serve: the tracing variables are invalid:\n  ${lines.join('\n  ')}`)
  }
  const t = r.data
  const explicit = (raw.tracing as { enabled?: unknown } | undefined)?.enabled
  const on = explicit === true || (explicit === undefined && exporter === 'otlp')
  if (!on || exporter === 'none') return undefined
  const serviceName = env.OTEL_SERVICE_NAME !== undefined && env.OTEL_SERVICE_NAME !== '' ? t.serviceName : `${t.serviceName}-${fnName}`
  return { endpoint: t.endpoint === '' ? DEFAULT_OTLP_TRACES_URL : t.endpoint, sampleRatio: t.sampleRatio, serviceName, maxQueueSize: t.maxQueueSize, exportTimeoutMs: t.exportTimeoutMs, scheduledDelayMs: 1000 }
}
