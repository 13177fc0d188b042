/**
 * OpenTelemetry's standard variables, as defaults for the `tracing` section: a field the config file (or an
 * IOTLESS_TRACING_* variable, applied after) sets wins. Returns the variables used.
 *   OTEL_SDK_DISABLED=true                 tracing.enabled: false
 *   OTEL_EXPORTER_OTLP_TRACES_ENDPOINT     tracing.endpoint (as is)
 *   OTEL_EXPORTER_OTLP_ENDPOINT            tracing.endpoint (+ /v1/traces)
 *   OTEL_TRACES_SAMPLER                    always_on: 1, always_off: 0, (parentbased_)traceidratio: OTEL_TRACES_SAMPLER_ARG
 *   OTEL_SERVICE_NAME                      tracing.serviceName
 *   OTEL_BSP_MAX_QUEUE_SIZE                tracing.maxQueueSize
 *   OTEL_EXPORTER_OTLP_TRACES_TIMEOUT      tracing.exportTimeoutMs
 *   OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,    tracing.protocol, when http/protobuf or http/json (grpc is not spoken:
 *   OTEL_EXPORTER_OTLP_PROTOCOL            left at the default, not refused, as another program's setting)
 * A value that is not a number where one is expected is kept as text, so validation names the field.
 */
export function applyOtelEnv (raw: Record<string, unknown>, env: NodeJS.ProcessEnv): string[] {
  const used: string[] = []
  const section = (typeof raw.tracing === 'object' && raw.tracing !== null ? raw.tracing : {}) as Record<string, unknown>
  const put = (field: string, value: unknown, name: string): void => {
    if (section[field] !== undefined) return
    section[field] = value
    used.push(name)
  }
  const num = (v: string): number | string => (v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : v)
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') put('enabled', false, 'OTEL_SDK_DISABLED')
  const tracesEndpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT
  if (tracesEndpoint !== undefined && tracesEndpoint !== '') put('endpoint', tracesEndpoint, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT')
  else if (endpoint !== undefined && endpoint !== '') put('endpoint', endpoint.replace(/\/+$/, '') + '/v1/traces', 'OTEL_EXPORTER_OTLP_ENDPOINT')
  const sampler = env.OTEL_TRACES_SAMPLER?.trim().toLowerCase()
  if (sampler === 'always_on' || sampler === 'parentbased_always_on') put('sampleRatio', 1, 'OTEL_TRACES_SAMPLER')
  else if (sampler === 'always_off' || sampler === 'parentbased_always_off') put('sampleRatio', 0, 'OTEL_TRACES_SAMPLER')
  else if ((sampler === undefined || sampler === 'traceidratio' || sampler === 'parentbased_traceidratio') && env.OTEL_TRACES_SAMPLER_ARG !== undefined) {
    put('sampleRatio', num(env.OTEL_TRACES_SAMPLER_ARG), 'OTEL_TRACES_SAMPLER_ARG')
  }
  if (env.OTEL_SERVICE_NAME !== undefined && env.OTEL_SERVICE_NAME !== '') put('serviceName', env.OTEL_SERVICE_NAME, 'OTEL_SERVICE_NAME')
  if (env.OTEL_BSP_MAX_QUEUE_SIZE !== undefined) put('maxQueueSize', num(env.OTEL_BSP_MAX_QUEUE_SIZE), 'OTEL_BSP_MAX_QUEUE_SIZE')
  if (env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT !== undefined) put('exportTimeoutMs', num(env.OTEL_EXPORTER_OTLP_TRACES_TIMEOUT), 'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT')
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim()
  if (protocol === 'http/protobuf' || protocol === 'http/json') put('protocol', protocol, env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL !== undefined ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL' : 'OTEL_EXPORTER_OTLP_PROTOCOL')
  if (used.length > 0) raw.tracing = section
  return used
}

/** The traces URL when neither the config nor OTEL_* named one: the OTLP/HTTP default. */
export const DEFAULT_OTLP_TRACES_URL = 'http://localhost:4318/v1/traces'
