import type { Command } from './command.js'
import { runStack } from './runStack.js'

const usage = `Usage: iotless adapter [-c FILE]

Runs the MQTT adapter alone, against an external broker (broker.url): the form for Kubernetes, as a
Deployment (replicas on a shared subscription), a ContainerSource or under a SinkBinding. Routes send to
their targets (knative, sink, openwhisk); routes on the local target run functions in this process's pool.
Stops gracefully on SIGINT, SIGTERM or SIGHUP: no new messages are taken, in-flight ones finish and are acknowledged.

Options:
  -c, --config FILE   config file (default: iotless.yaml in the current folder, or $IOTLESS_CONFIG)
  -h, --help          show this help

Every scalar setting can be overridden from the environment (IOTLESS_BROKER_URL=mqtts://broker:8883 ...).
A sink target reads K_SINK, K_CE_OVERRIDES and K_CA_CERTS, which Knative Eventing injects.`

export const adapterCommand: Command = {
  name: 'adapter',
  summary: 'run the MQTT adapter alone, against an external broker (Kubernetes)',
  usage,
  run: (argv) => runStack(argv, usage, 'iotless adapter', (config) => config.broker.url === ''
    ? [{ path: ['broker', 'url'], message: 'iotless adapter needs an external broker (set broker.url or IOTLESS_BROKER_URL); iotless up runs the embedded one' }]
    : [])
}
