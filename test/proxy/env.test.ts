import t from 'tap'
import { readProxyEnv, REQUIRED_ENV, parseReadinessProbe } from '../../proxy/env.js'
import { baseEnv } from './helpers.js'

t.test('every required variable, when unset, stops start-up with an error naming it', async (t) => {
  for (const name of REQUIRED_ENV) {
    const env: Record<string, string | undefined> = baseEnv(8080)
    delete env[name]
    t.throws(() => readProxyEnv(env), { code: 'PROXY_ENV_MISSING', message: new RegExp(`\\b${name}\\b`) }, name)
  }
})

t.test('unknown variables are ignored and the reconciler values are read', async (t) => {
  const cfg = readProxyEnv({
    ...baseEnv(8080),
    QUEUE_SERVING_PORT: '8012',
    CONTAINER_CONCURRENCY: '10',
    REVISION_TIMEOUT_SECONDS: '300',
    REVISION_RESPONSE_START_TIMEOUT_SECONDS: '30',
    REVISION_IDLE_TIMEOUT_SECONDS: '5',
    SOME_FUTURE_KNATIVE_VAR: 'x',
    TRACING_CONFIG_BACKEND: 'zipkin',
    ENABLE_HTTP_FULL_DUPLEX: 'true',
    IOTLESS_PROXY_ADMIN_PORT: '18022'
  })
  t.equal(cfg.queueServingPort, 8012)
  t.equal(cfg.userPort, 8080)
  t.equal(cfg.containerConcurrency, 10)
  t.equal(cfg.revisionTimeoutMs, 300_000)
  t.equal(cfg.responseStartTimeoutMs, 30_000)
  t.equal(cfg.idleTimeoutMs, 5000)
  t.equal(cfg.enableHttpFullDuplex, true)
  t.equal(cfg.adminPort, 18022)
  t.equal(cfg.servingPod, 'hello-00001-deployment-abc')
  t.ok(Object.isFrozen(cfg))
})

t.test('defaults: fixed Knative ports, 30 s quiet period, optional timeouts off', async (t) => {
  const env: Record<string, string | undefined> = baseEnv(8080)
  for (const k of Object.keys(env)) if (k.startsWith('IOTLESS_')) delete env[k]
  delete env.SERVING_READINESS_PROBE
  const cfg = readProxyEnv(env)
  t.equal(cfg.adminPort, 8022)
  t.equal(cfg.statsPort, 9090)
  t.equal(cfg.userMetricsPort, 9091)
  t.equal(cfg.drainQuietPeriodMs, 30_000)
  t.equal(cfg.upgradeGraceMs, 60_000)
  t.equal(cfg.responseStartTimeoutMs, 0)
  t.equal(cfg.idleTimeoutMs, 0)
  t.same(cfg.readinessProbe.checks, [{ kind: 'tcp', host: '127.0.0.1', port: 8080, path: '/', scheme: 'http', headers: [], service: '' }])
})

t.test('malformed values are refused with the variable named', async (t) => {
  for (const [k, v] of [['USER_PORT', 'http'], ['USER_PORT', '70000'], ['CONTAINER_CONCURRENCY', '-1'], ['REVISION_TIMEOUT_SECONDS', '1.5'], ['ENABLE_HTTP_FULL_DUPLEX', 'yes'], ['SERVING_READINESS_PROBE', '{oops'], ['IOTLESS_PROXY_STATS_PORT', 'x']] as const) {
    t.throws(() => readProxyEnv({ ...baseEnv(8080), [k]: v }), { code: 'PROXY_ENV_INVALID', message: new RegExp(k) }, `${k}=${v}`)
  }
})

t.test('SERVING_READINESS_PROBE: tcp, http, arrays, aggressive mode, gRPC health', async (t) => {
  const tcp = parseReadinessProbe('{"tcpSocket":{"port":8080,"host":"127.0.0.1"},"successThreshold":1}', '127.0.0.1', 9999)
  t.same(tcp.checks[0], { kind: 'tcp', host: '127.0.0.1', port: 8080, path: '/', scheme: 'http', headers: [], service: '' })
  t.equal(tcp.periodSeconds, 0, 'no periodSeconds means aggressive')
  const http = parseReadinessProbe(JSON.stringify({ httpGet: { path: 'healthz', port: '8081', httpHeaders: [{ name: 'X-A', value: 'b' }] }, periodSeconds: 5, timeoutSeconds: 2, successThreshold: 3 }), '127.0.0.1', 9999)
  t.same(http.checks[0], { kind: 'http', host: '127.0.0.1', port: 8081, path: '/healthz', scheme: 'http', headers: [['X-A', 'b']], service: '' })
  t.equal(http.periodSeconds, 5)
  t.equal(http.timeoutMs, 2000)
  t.equal(http.successThreshold, 3)
  const multi = parseReadinessProbe('[{"tcpSocket":{"port":8080}},{"httpGet":{"port":8090,"path":"/"}}]', '127.0.0.1', 9999)
  t.equal(multi.checks.length, 2)
  const named = parseReadinessProbe('{"tcpSocket":{"port":"user-port"}}', '127.0.0.1', 9999)
  t.equal(named.checks[0]?.port, 9999, 'a named port is the user port')
  const grpc = parseReadinessProbe('{"grpc":{"port":8080,"service":"svc"}}', '127.0.0.1', 9999)
  t.equal(grpc.checks[0]?.kind, 'grpc')
  t.equal(grpc.checks[0]?.port, 8080)
  t.equal(grpc.checks[0]?.service, 'svc')
  t.equal(parseReadinessProbe('{"grpc":{}}', '127.0.0.1', 9999).checks[0]?.service, '', 'no service: the whole server')
  t.throws(() => parseReadinessProbe('{"grpc":{"service":5}}', '127.0.0.1', 9999), { code: 'PROXY_ENV_INVALID' })
  t.throws(() => parseReadinessProbe('[]', '127.0.0.1', 1))
  t.throws(() => parseReadinessProbe('{"httpGet":{"scheme":"FTP"}}', '127.0.0.1', 1))
})

t.test('IOTLESS_PROXY_H2_ENGINE: relay by default, node on request, anything else refused naming the variable', async (t) => {
  const env: Record<string, string | undefined> = baseEnv(8080)
  delete env.IOTLESS_PROXY_H2_ENGINE
  t.equal(readProxyEnv(env).h2Engine, 'relay')
  t.equal(readProxyEnv({ ...env, IOTLESS_PROXY_H2_ENGINE: 'node' }).h2Engine, 'node')
  t.equal(readProxyEnv({ ...env, IOTLESS_PROXY_H2_ENGINE: ' relay ' }).h2Engine, 'relay')
  t.throws(() => readProxyEnv({ ...env, IOTLESS_PROXY_H2_ENGINE: 'nghttp2' }), { code: 'PROXY_ENV_INVALID', message: /IOTLESS_PROXY_H2_ENGINE/ })
})

t.test('IOTLESS_PROXY_MULTI_ACCEPT: on unless set false; anything but a boolean names the variable', async (t) => {
  t.equal(readProxyEnv(baseEnv(8080)).multiAccept, true)
  t.equal(readProxyEnv({ ...baseEnv(8080), IOTLESS_PROXY_MULTI_ACCEPT: '' }).multiAccept, true)
  t.equal(readProxyEnv({ ...baseEnv(8080), IOTLESS_PROXY_MULTI_ACCEPT: 'false' }).multiAccept, false)
  t.equal(readProxyEnv({ ...baseEnv(8080), IOTLESS_PROXY_MULTI_ACCEPT: '0' }).multiAccept, false)
  t.equal(readProxyEnv({ ...baseEnv(8080), IOTLESS_PROXY_MULTI_ACCEPT: 'true' }).multiAccept, true)
  t.throws(() => readProxyEnv({ ...baseEnv(8080), IOTLESS_PROXY_MULTI_ACCEPT: 'yes' }), { code: 'PROXY_ENV_INVALID', message: /IOTLESS_PROXY_MULTI_ACCEPT/ })
})
