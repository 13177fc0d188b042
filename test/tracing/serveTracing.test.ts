// The tracing settings `iotless fn serve` reads from its environment: off by default, on by
// IOTLESS_TRACING_ENABLED or OTEL_TRACES_EXPORTER=otlp, the OTEL_* and IOTLESS_TRACING_* values. Pure.
import t from 'tap'
import { serveTracingFromEnv } from '../../functions/sdk/serveTracing.js'

t.test('off unless asked for', async (t) => {
  t.equal(serveTracingFromEnv({}, 'echo'), undefined)
  t.equal(serveTracingFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, 'echo'), undefined, 'an endpoint alone does not turn it on (as for the adapter)')
  t.equal(serveTracingFromEnv({ OTEL_TRACES_EXPORTER: 'none', IOTLESS_TRACING_ENABLED: 'true' }, 'echo'), undefined, 'OTEL_TRACES_EXPORTER=none keeps it off')
  t.equal(serveTracingFromEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }, 'echo'), undefined, 'OTEL_SDK_DISABLED wins over the exporter')
})

t.test('on: the endpoint, ratio and service name from the environment', async (t) => {
  t.same(serveTracingFromEnv({ IOTLESS_TRACING_ENABLED: 'true' }, 'echo'), { endpoint: 'http://localhost:4318/v1/traces', sampleRatio: 1, serviceName: 'iotless-echo', maxQueueSize: 2048, exportTimeoutMs: 10_000, scheduledDelayMs: 1000 })
  t.match(serveTracingFromEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318/', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_SERVICE_NAME: 'sensor-fn' }, 'echo'), { endpoint: 'http://c:4318/v1/traces', sampleRatio: 0.25, serviceName: 'sensor-fn' })
  t.match(serveTracingFromEnv({ IOTLESS_TRACING_ENABLED: 'true', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://a/v1/traces', IOTLESS_TRACING_ENDPOINT: 'http://b/v1/traces' }, 'echo'), { endpoint: 'http://b/v1/traces' }, 'IOTLESS_ wins')
})

t.test('a bad value stops start-up naming the field', async (t) => {
  t.throws(() => serveTracingFromEnv({ IOTLESS_TRACING_ENABLED: 'true', IOTLESS_TRACING_SAMPLE_RATIO: '2' }, 'echo'), /tracing\.sampleRatio/)
  t.throws(() => serveTracingFromEnv({ IOTLESS_TRACING_ENABLED: 'true', IOTLESS_TRACING_NOPE: '1' }, 'echo'), /IOTLESS_TRACING_NOPE is not a known setting/)
})
