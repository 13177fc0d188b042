import { loadConfig } from '../core/config/loadConfig.js'
import type { Config } from '../core/config/schema.js'
import { createLogger } from '../core/log.js'
import { checkIngress } from '../adapters/ingress/checkIngress.js'
import { parseOptions } from './parseOptions.js'
import { checkFunctionModules } from './resolveFunctionModule.js'
import { startStack } from './stack.js'

/**
 * What `iotless up` and `iotless adapter` share: read `-c FILE`, load and check the config (`check` may add
 * the command's own rule and throw), start the stack, and run until a signal (Lifecycle.handleSignals exits).
 */
export async function runStack (argv: string[], usage: string, what: string, check: (config: Readonly<Config>, file: string) => void = () => undefined): Promise<number> {
  const { values } = parseOptions(argv, { config: { type: 'string', short: 'c' } }, usage)
  const loaded = loadConfig({
    file: values.config,
    check: (cfg, baseDir) => [...checkIngress(cfg), ...checkFunctionModules(cfg.functions, baseDir)]
  })
  check(loaded.config, loaded.file ?? 'the config')
  const log = createLogger({ level: loaded.config.log.level })
  if (loaded.envApplied.length > 0) log.info({ overrides: loaded.envApplied }, 'config overridden from the environment')
  const stack = await startStack({ config: loaded.config, baseDir: loaded.baseDir, log, env: process.env })
  stack.lifecycle.handleSignals()
  log.info({
    config: loaded.file,
    broker: stack.brokerUrl,
    routes: loaded.config.routes.map((r) => `${r.topic} -> ${r.targets !== undefined ? `${r.targets.join('|')}:` : r.target === 'local' ? '' : `${r.target}:`}${r.function}${r.reply === undefined ? '' : ` -> ${r.reply}`}`)
  }, `${what} is up`)
  return await new Promise<number>(() => undefined)
}
