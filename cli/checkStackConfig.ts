import type { ConfigProblem } from '../core/config/loadConfig.js'
import type { Config } from '../core/config/schema.js'
import { IotlessError, isIotlessError } from '../core/errors.js'
import { checkModuleLoad } from '../adapters/runtime/moduleCheck.js'
import { checkIngress } from '../adapters/ingress/checkIngress.js'
import { httpUrl, PROBE_NAME } from '../adapters/targets/knativeTarget.js'
import { openWhiskApiUrl } from '../adapters/targets/openwhiskTarget.js'
import { POLICIES } from '../prefetch/policies/policies.js'
import { resolveParams } from '../prefetch/policies/policyParams.js'
import { checkFunctionModules, resolveFunctionModule } from './resolveFunctionModule.js'

/** Runs `check`, turning the IotlessError it throws into a problem at `path` that keeps the error's code. */
function problemFrom (path: PropertyKey[], check: () => unknown): ConfigProblem[] {
  try {
    check()
    return []
  } catch (err) {
    if (!isIotlessError(err)) throw err
    return [{ path, message: err.message, code: err.code }]
  }
}

/** Target URLs, checked as the targets will parse them (TARGET_URL_INVALID), at their config path. */
export function checkTargets (targets: Readonly<Config['targets']>): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const [name, t] of Object.entries(targets)) {
    if (t.kind === 'knative') problems.push(...problemFrom(['targets', name, 'url'], () => httpUrl(t.url.replaceAll('{function}', PROBE_NAME), `targets.${name}.url`)))
    if (t.kind === 'openwhisk') problems.push(...problemFrom(['targets', name, 'apiHost'], () => openWhiskApiUrl(t.apiHost)))
  }
  return problems
}

/** prefetch.params against the chosen policy's parameters (SIM_INVALID_PARAM), one problem per bad name or value. */
export function checkPrefetchParams (prefetch: Readonly<Config['prefetch']>): ConfigProblem[] {
  if (!prefetch.enabled) return []
  const entry = POLICIES.find((p) => p.name === prefetch.policy)
  if (entry === undefined) return [{ path: ['prefetch', 'policy'], message: `unknown policy "${prefetch.policy}"`, code: 'SIM_UNKNOWN_POLICY' }]
  return Object.entries(prefetch.params).flatMap(([k, v]) => problemFrom(['prefetch', 'params', k], () => resolveParams(entry.name, entry.params, { [k]: v })))
}

/**
 * Everything `iotless up` and `iotless adapter` check in the config before starting anything, in the same pass
 * as the schema (loadConfig's `check`): routes and the adapter's limits (checkIngress), module files, target URLs, policy parameters.
 */
export function checkStackConfig (config: Config, baseDir: string): ConfigProblem[] {
  return [
    ...checkIngress(config),
    ...checkFunctionModules(config.functions, baseDir),
    ...checkTargets(config.targets),
    ...checkPrefetchParams(config.prefetch)
  ]
}

/**
 * Start-up check of `iotless up` / `iotless adapter`, after the config passed: every function module is imported
 * in a check process (adapters/runtime/moduleCheck.ts) within its initTimeoutMs. Throws FUNCTION_MODULE_INVALID
 * listing each module that does not load or export a defineFunction definition, at its config path.
 */
export async function checkFunctionModulesLoad (config: Readonly<Config>, baseDir: string, env: NodeJS.ProcessEnv, file: string): Promise<void> {
  const checks = Object.entries(config.functions).map(([name, fn]) =>
    checkModuleLoad({ name, modulePath: resolveFunctionModule(fn.module, baseDir), env: { ...env, ...fn.env } }, fn.initTimeoutMs))
  const problems = (await Promise.all(checks)).filter((p) => p !== undefined)
  if (problems.length === 0) return
  const lines = problems.map((p) => `functions.${p.name}.module: ${p.modulePath} ${p.message}`)
  throw new IotlessError('FUNCTION_MODULE_INVALID', `${file}: ${problems.length === 1 ? 'a function module does' : `${problems.length} function modules do`} not load:\n  ${lines.join('\n  ')}`, {
    details: { problems: lines }
  })
}
