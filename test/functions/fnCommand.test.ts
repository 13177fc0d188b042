import t from 'tap'
import { defaultName, detectMode, parseConfigJson } from '../../cli/fn.js'
import { isIotlessError } from '../../core/errors.js'

function usageError (fn: () => unknown): boolean {
  try { fn() } catch (err) { return isIotlessError(err, 'CLI_USAGE') }
  return false
}

t.test('serving mode: flag, then IOTLESS_FN_MODE, then OpenWhisk\'s variable, then knative', async (t) => {
  t.equal(detectMode(undefined, {}), 'knative')
  t.equal(detectMode(undefined, { __OW_RUNTIME_PLATFORM: 'knative' }), 'openwhisk', 'OpenWhisk\'s single-entrypoint variable means the OpenWhisk protocol')
  t.equal(detectMode(undefined, { __OW_RUNTIME_PLATFORM: 'openwhisk', IOTLESS_FN_MODE: 'knative' }), 'knative')
  t.equal(detectMode('openwhisk', { IOTLESS_FN_MODE: 'knative' }), 'openwhisk')
  t.ok(usageError(() => detectMode('lambda', {})), 'an unknown mode is a usage error')
})

t.test('config JSON and the default name', async (t) => {
  t.same(parseConfigJson(undefined), {})
  t.same(parseConfigJson(' '), {})
  t.same(parseConfigJson('{"gpu":"on"}'), { gpu: 'on' })
  t.ok(usageError(() => parseConfigJson('[1]')), 'not an object')
  t.ok(usageError(() => parseConfigJson('{gpu')), 'not JSON')
  t.equal(defaultName('/app/dist/functions/text-detect/index.js'), 'text-detect')
  t.equal(defaultName('/app/my-fn.js'), 'my-fn')
})
