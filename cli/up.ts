import type { Command } from './command.js'
import { runStack } from './runStack.js'

const usage = `Usage: iotless up [-c FILE]

Runs the embedded stack on this machine: an MQTT broker (aedes, unless broker.url names one),
the MQTT adapter, a local pool of function instances pre-warmed by prefetch (prefetch.enabled, on
by default; docs/prefetch.md), and a Prometheus /metrics endpoint.
Stops gracefully on SIGINT, SIGTERM or SIGHUP: no new messages are taken, in-flight ones finish.

Options:
  -c, --config FILE   config file (default: iotless.yaml in the current folder, or $IOTLESS_CONFIG)
  -h, --help          show this help

Every scalar setting can be overridden from the environment: IOTLESS_ + its path in UPPER_SNAKE,
e.g. IOTLESS_BROKER_PORT=1884, IOTLESS_BROKER_URL=mqtt://127.0.0.1:1883, IOTLESS_LOG_LEVEL=debug.`

export const upCommand: Command = {
  name: 'up',
  summary: 'run the embedded stack: broker, adapter, local functions, prefetch, /metrics',
  usage,
  run: (argv) => runStack(argv, usage, 'iotless')
}
