// The Knative Eventing source contract (eventing: pkg/apis/sources/v1/sinkbinding_lifecycle.go,
// pkg/adapter/v2/config.go): K_SINK, K_CE_OVERRIDES, K_CA_CERTS, K_SINK_TIMEOUT.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parseSinkEnv } from '../../adapters/targets/sinkEnv.js'
import { isIotlessError } from '../../core/errors.js'
import { repoRoot } from '../helpers/paths.js'

const caPem = readFileSync(resolve(repoRoot, 'test/fixtures/tls/ca.crt'), 'utf8')

function failure (env: Record<string, string | undefined>): { code: string; message: string } {
  try {
    parseSinkEnv(env)
  } catch (err) {
    if (isIotlessError(err)) return { code: err.code, message: err.message }
    throw err
  }
  throw new Error('parseSinkEnv did not throw')
}

t.test('what a SinkBinding injects, at its smallest and fullest', async (t) => {
  t.same(parseSinkEnv({ K_SINK: 'http://broker-ingress.knative-eventing.svc.cluster.local/default/default', K_CE_OVERRIDES: '' }), {
    url: 'http://broker-ingress.knative-eventing.svc.cluster.local/default/default',
    ceOverrides: {}
  }, 'empty K_CE_OVERRIDES (what Knative injects when spec.ceOverrides is unset) means none')
  t.same(parseSinkEnv({
    K_SINK: 'https://sink.example.com:8443/in',
    K_CE_OVERRIDES: '{"extensions":{"region":"eu-west","building":"b7"}}',
    K_CA_CERTS: caPem,
    K_SINK_TIMEOUT: '15',
    UNRELATED: 'x'
  }), { url: 'https://sink.example.com:8443/in', ceOverrides: { region: 'eu-west', building: 'b7' }, ca: caPem, timeoutMs: 15_000 })
  t.same(parseSinkEnv({ K_SINK: 'http://s', K_CE_OVERRIDES: '{}', K_SINK_TIMEOUT: '0', K_CA_CERTS: ' ' }), { url: 'http://s/', ceOverrides: {} }, '0 s and blank CA mean unset')
  t.same(parseSinkEnv({ K_SINK: 'http://s', K_CE_OVERRIDES: '{"extensions":null,"future":1}' }).ceOverrides, {}, 'unknown keys ignored, as Go json does')
})

t.test('errors name the variable, with a stable code', async (t) => {
  const table: Array<[Record<string, string | undefined>, string, RegExp]> = [
    [{}, 'SINK_ENV_MISSING', /K_SINK is not set/],
    [{ K_SINK: '  ' }, 'SINK_ENV_MISSING', /K_SINK/],
    [{ K_SINK: 'not a url' }, 'SINK_ENV_INVALID', /K_SINK is not an absolute URL/],
    [{ K_SINK: 'ftp://x/y' }, 'SINK_ENV_INVALID', /K_SINK must be http/],
    [{ K_SINK: 'http://s', K_CE_OVERRIDES: '{extensions:' }, 'SINK_ENV_INVALID', /K_CE_OVERRIDES is not valid JSON/],
    [{ K_SINK: 'http://s', K_CE_OVERRIDES: '[1]' }, 'SINK_ENV_INVALID', /K_CE_OVERRIDES must be a JSON object/],
    [{ K_SINK: 'http://s', K_CE_OVERRIDES: '{"extensions":["a"]}' }, 'SINK_ENV_INVALID', /K_CE_OVERRIDES "extensions" must be an object/],
    [{ K_SINK: 'http://s', K_CE_OVERRIDES: '{"extensions":{"Region":"x"}}' }, 'SINK_ENV_INVALID', /K_CE_OVERRIDES extension name "Region"/],
    [{ K_SINK: 'http://s', K_CE_OVERRIDES: '{"extensions":{"my-ext":"x"}}' }, 'SINK_ENV_INVALID', /lower-case letters and digits/],
    [{ K_SINK: 'http://s', K_CE_OVERRIDES: '{"extensions":{"type":"x"}}' }, 'SINK_ENV_INVALID', /type is a core CloudEvents attribute/],
    [{ K_SINK: 'http://s', K_CE_OVERRIDES: '{"extensions":{"n":1}}' }, 'SINK_ENV_INVALID', /extension n must be a string/],
    [{ K_SINK: 'http://s', K_SINK_TIMEOUT: '2.5' }, 'SINK_ENV_INVALID', /K_SINK_TIMEOUT must be a whole number of seconds/],
    [{ K_SINK: 'http://s', K_SINK_TIMEOUT: '-1' }, 'SINK_ENV_INVALID', /K_SINK_TIMEOUT/],
    [{ K_SINK: 'http://s', K_CA_CERTS: 'garbage' }, 'SINK_ENV_INVALID', /K_CA_CERTS holds no PEM certificate/]
  ]
  for (const [env, code, message] of table) {
    const f = failure(env)
    t.equal(f.code, code, JSON.stringify(env))
    t.match(f.message, message, JSON.stringify(env))
  }
})

t.test('a K_SINK with credentials is not echoed in the error', async (t) => {
  const f = failure({ K_SINK: 'http://user:s3cret@ho st/' })
  t.notMatch(f.message, /s3cret/)
})
