import t from 'tap'
import { readObservabilityEnv, tracesUrl } from '../../proxy/observabilityEnv.js'
import { routeTagOf } from '../../proxy/routeTag.js'

const obs = (tracing: Record<string, unknown>, extra: Record<string, string> = {}): Record<string, string> => ({ OBSERVABILITY_CONFIG: JSON.stringify({ tracing }), SERVING_CONFIGURATION: 'hello', ...extra })

t.test('tracing is off by default, and with protocol none', async (t) => {
  t.equal(readObservabilityEnv({}).tracing, null)
  t.equal(readObservabilityEnv(obs({ protocol: 'none' })).tracing, null)
  t.equal(readObservabilityEnv({ TRACING_CONFIG_BACKEND: 'none' }).tracing, null)
  t.equal(readObservabilityEnv({ OBSERVABILITY_CONFIG: '' }).tracing, null)
  // OTEL_* alone never turns it on: Knative installs a no-op provider for protocol none.
  t.equal(readObservabilityEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_SAMPLER: 'always_on' }).tracing, null)
})

t.test('OBSERVABILITY_CONFIG http/protobuf (Knative >= 1.19)', async (t) => {
  const s = readObservabilityEnv(obs({ protocol: 'http/protobuf', endpoint: 'http://otel-collector.observability:4318/v1/traces', samplingRate: 0.1 }))
  t.same(s.tracing, { endpoint: 'http://otel-collector.observability:4318/v1/traces', sampleRatio: 0.1, serviceName: 'hello', maxQueueSize: 2048, exportTimeoutMs: 10_000, scheduledDelayMs: 5000 })
  t.same(s.notes, [])
  // A URL without a path gets OTLP's /v1/traces; a bare host:port gets http://.
  t.equal(tracesUrl('http://c:4318'), 'http://c:4318/v1/traces')
  t.equal(tracesUrl('c:4318'), 'http://c:4318/v1/traces')
  t.equal(tracesUrl('https://c/custom'), 'https://c/custom')
  t.equal(readObservabilityEnv(obs({ protocol: 'http/protobuf' })).tracing?.endpoint, 'http://localhost:4318/v1/traces', 'no endpoint: the OTLP/HTTP default')
})

t.test('OTEL_* variables on top, as knative/pkg reads them', async (t) => {
  const base = { protocol: 'http/protobuf', endpoint: 'http://a:4318', samplingRate: 0.5 }
  t.equal(readObservabilityEnv(obs(base, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318/' })).tracing?.endpoint, 'http://b:4318/v1/traces')
  t.equal(readObservabilityEnv(obs(base, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://t:1/x' })).tracing?.endpoint, 'http://t:1/x')
  t.equal(readObservabilityEnv(obs(base, { OTEL_TRACES_SAMPLER_ARG: '0.25' })).tracing?.sampleRatio, 0.25)
  t.equal(readObservabilityEnv(obs(base, { OTEL_TRACES_SAMPLER: 'always_on' })).tracing?.sampleRatio, 1)
  t.equal(readObservabilityEnv(obs(base, { OTEL_TRACES_SAMPLER: 'parentbased_always_off' })).tracing?.sampleRatio, 0)
  t.equal(readObservabilityEnv(obs(base, { OTEL_SERVICE_NAME: 'mine', SERVING_SERVICE: 'svc' })).tracing?.serviceName, 'mine')
  t.equal(readObservabilityEnv(obs(base, { SERVING_SERVICE: 'svc' })).tracing?.serviceName, 'svc')
  t.equal(readObservabilityEnv(obs(base, { OTEL_BSP_MAX_QUEUE_SIZE: '10' })).tracing?.maxQueueSize, 10)
  const off = readObservabilityEnv(obs(base, { OTEL_SDK_DISABLED: 'true' }))
  t.equal(off.tracing, null)
  t.match(off.notes[0], /OTEL_SDK_DISABLED/)
})

t.test('backends iotless does not export to leave tracing off, with a note', async (t) => {
  for (const protocol of ['grpc', 'stdout']) {
    const s = readObservabilityEnv(obs({ protocol, endpoint: protocol === 'grpc' ? 'http://c:4317' : undefined }))
    t.equal(s.tracing, null, protocol)
    t.match(s.notes[0], new RegExp(`tracing protocol ${protocol} is not supported`))
  }
  // Knative <= 1.18: TRACING_CONFIG_BACKEND=zipkin.
  const z = readObservabilityEnv({ TRACING_CONFIG_BACKEND: 'zipkin', TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://zipkin:9411/api/v2/spans', TRACING_CONFIG_SAMPLE_RATE: '0.1' })
  t.equal(z.tracing, null)
  t.match(z.notes[0], /zipkin/)
})

t.test('bad values are PROXY_ENV_INVALID naming the variable', async (t) => {
  t.throws(() => readObservabilityEnv({ OBSERVABILITY_CONFIG: '{not json' }), { code: 'PROXY_ENV_INVALID', message: /OBSERVABILITY_CONFIG/ })
  t.throws(() => readObservabilityEnv({ OBSERVABILITY_CONFIG: '[]' }), { code: 'PROXY_ENV_INVALID', message: /OBSERVABILITY_CONFIG/ })
  t.throws(() => readObservabilityEnv(obs({ protocol: 'jaeger' })), { code: 'PROXY_ENV_INVALID', message: /tracing.protocol "jaeger"/ })
  t.throws(() => readObservabilityEnv(obs({ protocol: 'http/protobuf', samplingRate: 2 })), { code: 'PROXY_ENV_INVALID', message: /samplingRate/ })
  t.throws(() => readObservabilityEnv(obs({ protocol: 'http/protobuf' }, { OTEL_TRACES_SAMPLER_ARG: 'x' })), { code: 'PROXY_ENV_INVALID', message: /OTEL_TRACES_SAMPLER_ARG/ })
  t.throws(() => readObservabilityEnv({ OBSERVABILITY_CONFIG: JSON.stringify({ runtime: { profiling: 'yes' } }) }), { code: 'PROXY_ENV_INVALID', message: /runtime.profiling/ })
  t.throws(() => readObservabilityEnv({ ENABLE_PROFILING: 'maybe' }), { code: 'PROXY_ENV_INVALID', message: /ENABLE_PROFILING/ })
  t.throws(() => readObservabilityEnv({ PROFILING_PORT: 'http' }), { code: 'PROXY_ENV_INVALID', message: /PROFILING_PORT/ })
})

t.test('profiling: off by default, on by runtime.profiling or ENABLE_PROFILING, on PROFILING_PORT (8008)', async (t) => {
  t.same(readObservabilityEnv({}).profiling, { enabled: false, port: 8008 })
  t.same(readObservabilityEnv({ OBSERVABILITY_CONFIG: JSON.stringify({ runtime: { profiling: 'enabled' } }) }).profiling, { enabled: true, port: 8008 })
  t.same(readObservabilityEnv({ OBSERVABILITY_CONFIG: JSON.stringify({ runtime: { profiling: 'disabled' } }) }).profiling.enabled, false)
  t.same(readObservabilityEnv({ ENABLE_PROFILING: 'true', PROFILING_PORT: '18008' }).profiling, { enabled: true, port: 18008 })
})

t.test('route tags as serving pkg/queue/routetag_handler.go names them', async (t) => {
  t.equal(routeTagOf('', ''), 'kn:disabled')
  t.equal(routeTagOf('', 'true'), 'kn:default')
  t.equal(routeTagOf('', 'false'), 'kn:default')
  t.equal(routeTagOf('blue', 'true'), 'kn:undefined')
  t.equal(routeTagOf('blue', ''), 'blue')
  t.equal(routeTagOf('blue', 'false'), 'blue')
})
