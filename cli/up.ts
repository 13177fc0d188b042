import { loadConfig } from '../core/config/loadConfig.js'
import { createLogger } from '../core/log.js'
import { checkRoutes } from '../adapters/mqtt/routeTable.js'
import type { Command } from './command.js'
import { parseOptions } from './parseOptions.js'
import { checkFunctionModules } from './resolveFunctionModule.js'
import { startStack } from './stack.js'

const usage = `Usage: iotless up [-c FILE]

Runs the embedded stack on this machine: an MQTT broker (aedes, unless broker.url names one),
the MQTT adapter, a local pool of function instances pre-warmed by prefetch (prefetch.enabled, on
by default; docs/prefetch.md), and a Prometheus /metrics endpoint.
Stops gracefully on SIGINT or SIGTERM: no new messages are taken, in-flight ones finish.

Options:
  -c, --config FILE   config file (default: iotless.yaml in the current folder, or $IOTLESS_CONFIG)
  -h, --help          show this help

Every scalar setting can be overridden from the environment: IOTLESS_ + its path in UPPER_SNAKE,
e.g. IOTLESS_BROKER_PORT=1884, IOTLESS_BROKER_URL=mqtt://127.0.0.1:1883, IOTLESS_LOG_LEVEL=debug.`

export const upCommand: Command = {
  name: 'up',
  summary: 'run the embedded stack: broker, adapter, local functions, /metrics',
  usage,
  async run (argv) {
    const { values } = parseOptions(argv, { config: { type: 'string', short: 'c' } }, usage)
    const loaded = loadConfig({
      file: values.config,
      check: (cfg, baseDir) => [...checkRoutes(cfg.routes), ...checkFunctionModules(cfg.functions, baseDir)]
    })
    const log = createLogger({ level: loaded.config.log.level })
    if (loaded.envApplied.length > 0) log.info({ overrides: loaded.envApplied }, 'config overridden from the environment')
    const stack = await startStack({ config: loaded.config, baseDir: loaded.baseDir, log, env: process.env })
    stack.lifecycle.handleSignals()
    log.info({ config: loaded.file, broker: stack.brokerUrl, routes: loaded.config.routes.map((r) => `${r.topic} -> ${r.function}${r.reply === undefined ? '' : ` -> ${r.reply}`}`) }, 'iotless is up')
    // Runs until a signal; Lifecycle.handleSignals exits the process.
    return await new Promise<number>(() => undefined)
  }
}
