import { loadConfig, type ConfigProblem } from '../core/config/loadConfig.js'
import type { Config } from '../core/config/schema.js'
import { createLogger } from '../core/log.js'
import { redactUrl } from '../core/redact.js'
import { parseOptions } from './parseOptions.js'
import { checkFunctionModulesLoad, checkStackConfig } from './checkStackConfig.js'
import { startStack } from './stack.js'

/**
 * What `iotless up` and `iotless adapter` share: read `-c FILE`, load and check the config (`check` adds the
 * command's own rules, reported in the same pass), start the stack, and run until a signal
 * (Lifecycle.handleSignals exits).
 */
export async function runStack (argv: string[], usage: string, what: string, check: (config: Readonly<Config>) => ConfigProblem[] = () => []): Promise<number> {
  const { values } = parseOptions(argv, { config: { type: 'string', short: 'c' } }, usage)
  const loaded = loadConfig({
    file: values.config,
    check: (cfg, baseDir) => [...checkStackConfig(cfg, baseDir), ...check(cfg)]
  })
  // A module with a syntax error or no defineFunction export fails here, not at the first message.
  await checkFunctionModulesLoad(loaded.config, loaded.baseDir, process.env, loaded.file ?? 'the config')
  const log = createLogger({ level: loaded.config.log.level })
  if (loaded.envApplied.length > 0) log.info({ overrides: loaded.envApplied }, 'config overridden from the environment')
  if (loaded.envIgnored.length > 0) log.info({ ignored: loaded.envIgnored }, 'Kubernetes service-link variables ignored (not settings)')
  const stack = await startStack({ config: loaded.config, baseDir: loaded.baseDir, log, env: process.env })
  stack.lifecycle.handleSignals()
  log.info({
    config: loaded.file,
    // Never the password of mqtt://user:secret@host.
    broker: redactUrl(stack.brokerUrl),
    routes: loaded.config.routes.map((r) => `${r.topic} -> ${r.targets !== undefined ? `${r.targets.join('|')}:` : r.target === 'local' ? '' : `${r.target}:`}${r.function}${r.reply === undefined ? '' : ` -> ${r.reply}`}`)
  }, `${what} is up`)
  return await new Promise<number>(() => undefined)
}
