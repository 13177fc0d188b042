import t from 'tap'
import { applyOtelEnv } from '../../core/config/otelEnv.js'
import { configSchema } from '../../core/config/schema.js'

t.test('OTEL_* variables fill the tracing section where the config is silent', async (t) => {
  const raw: Record<string, unknown> = {}
  const used = applyOtelEnv(raw, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/', OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_SERVICE_NAME: 'edge-7', OTEL_BSP_MAX_QUEUE_SIZE: '100' })
  t.same(raw.tracing, { endpoint: 'http://collector:4318/v1/traces', sampleRatio: 0.25, serviceName: 'edge-7', maxQueueSize: 100 })
  t.same(used, ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_TRACES_SAMPLER_ARG', 'OTEL_SERVICE_NAME', 'OTEL_BSP_MAX_QUEUE_SIZE'])
  t.match(configSchema.parse(raw).tracing, { enabled: false, sampleRatio: 0.25 }, 'they do not turn tracing on by themselves')
})

t.test('the traces endpoint wins over the base one; the config file wins over both', async (t) => {
  const raw: Record<string, unknown> = { tracing: { endpoint: 'http://mine:4318/v1/traces' } }
  applyOtelEnv(raw, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://a/v1/traces', OTEL_SDK_DISABLED: 'true', OTEL_TRACES_SAMPLER: 'always_off' })
  t.same(raw.tracing, { endpoint: 'http://mine:4318/v1/traces', enabled: false, sampleRatio: 0 })
  const raw2: Record<string, unknown> = {}
  applyOtelEnv(raw2, { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://a/v1/traces', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b' })
  t.same(raw2.tracing, { endpoint: 'http://a/v1/traces' })
  const none: Record<string, unknown> = {}
  t.same(applyOtelEnv(none, {}), [])
  t.equal(none.tracing, undefined, 'nothing set, nothing added')
})

t.test('a bad number is left for validation, which names the field', async (t) => {
  const raw: Record<string, unknown> = {}
  applyOtelEnv(raw, { OTEL_TRACES_SAMPLER_ARG: 'half' })
  const r = configSchema.safeParse(raw)
  t.notOk(r.success)
  t.match(JSON.stringify(r.error?.issues), /"tracing","sampleRatio"/)
})

t.test('the OTLP protocol variables set tracing.protocol when they name one the compact engine speaks', async (t) => {
  const raw: Record<string, unknown> = {}
  t.same(applyOtelEnv(raw, { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' }), ['OTEL_EXPORTER_OTLP_PROTOCOL'])
  t.same(raw.tracing, { protocol: 'http/json' })
  const raw2: Record<string, unknown> = {}
  applyOtelEnv(raw2, { OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' })
  t.same(raw2.tracing, { protocol: 'http/protobuf' }, 'the traces one wins')
  const grpc: Record<string, unknown> = {}
  t.same(applyOtelEnv(grpc, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), [], 'grpc: another program\'s setting, left alone')
  t.match(configSchema.parse(grpc).tracing, { engine: 'compact', protocol: 'http/protobuf' }, 'the defaults')
})

t.test('tracing.engine and tracing.protocol are validated, naming the field', async (t) => {
  const r = configSchema.safeParse({ tracing: { engine: 'fast' } })
  t.notOk(r.success)
  t.match(JSON.stringify(r.error?.issues), /"tracing","engine"/)
  const p = configSchema.safeParse({ tracing: { protocol: 'grpc' } })
  t.notOk(p.success)
  t.match(JSON.stringify(p.error?.issues), /"tracing","protocol"/)
  t.match(configSchema.parse({ tracing: { engine: 'sdk' } }).tracing, { engine: 'sdk' })
})
