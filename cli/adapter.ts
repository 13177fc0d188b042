import { loadConfig } from '../core/config/loadConfig.js'
import { IotlessError } from '../core/errors.js'
import { createLogger } from '../core/log.js'
import { checkRoutes } from '../adapters/mqtt/routeTable.js'
import type { Command } from './command.js'
import { parseOptions } from './parseOptions.js'
import { checkFunctionModules } from './resolveFunctionModule.js'
import { startStack } from './stack.js'

const usage = `Usage: iotless adapter [-c FILE]

Runs the MQTT adapter alone, against an external broker (broker.url): the form for Kubernetes, as a
Deployment (replicas on a shared subscription), a ContainerSource or under a SinkBinding. Routes send to
their targets (knative, sink, openwhisk); routes on the local target run functions in this process's pool.
Stops gracefully on SIGINT or SIGTERM: no new messages are taken, in-flight ones finish and are acknowledged.

Options:
  -c, --config FILE   config file (default: iotless.yaml in the current folder, or $IOTLESS_CONFIG)
  -h, --help          show this help

Every scalar setting can be overridden from the environment (IOTLESS_BROKER_URL=mqtts://broker:8883 ...).
A sink target reads K_SINK, K_CE_OVERRIDES and K_CA_CERTS, which Knative Eventing injects.`

export const adapterCommand: Command = {
  name: 'adapter',
  summary: 'run the MQTT adapter alone, against an external broker (Kubernetes)',
  usage,
  async run (argv) {
    const { values } = parseOptions(argv, { config: { type: 'string', short: 'c' } }, usage)
    const loaded = loadConfig({
      file: values.config,
      check: (cfg, baseDir) => [...checkRoutes(cfg.routes), ...checkFunctionModules(cfg.functions, baseDir)]
    })
    if (loaded.config.broker.url === '') {
      throw new IotlessError('CONFIG_INVALID', `${loaded.file} is invalid:\n  broker.url: iotless adapter needs an external broker (set broker.url or IOTLESS_BROKER_URL); iotless up runs the embedded one`)
    }
    const log = createLogger({ level: loaded.config.log.level })
    if (loaded.envApplied.length > 0) log.info({ overrides: loaded.envApplied }, 'config overridden from the environment')
    const stack = await startStack({ config: loaded.config, baseDir: loaded.baseDir, log, env: process.env })
    stack.lifecycle.handleSignals()
    log.info({ config: loaded.file, broker: stack.brokerUrl, routes: loaded.config.routes.map((r) => `${r.topic} -> ${r.target}:${r.function}`) }, 'iotless adapter is up')
    return await new Promise<number>(() => undefined)
  }
}
