import type { CommandEntry } from './command.js'

/**
 * Every subcommand, in the order `iotless --help` lists them. A command's module is imported only when
 * that command runs, so `iotless proxy` loads the proxy and nothing else (no MQTT broker, no ML runtime).
 * Later components add one line each:
 *   name: { summary: 'one line for --help', load: async () => (await import('./name.js')).nameCommand },
 */
export const commands: Record<string, CommandEntry> = {
  up: { summary: 'run the embedded stack: broker, adapter, local functions, prefetch, /metrics', load: async () => (await import('./up.js')).upCommand },
  adapter: { summary: 'run the MQTT adapter alone, against an external broker (Kubernetes)', load: async () => (await import('./adapter.js')).adapterCommand },
  proxy: { summary: 'run the slim Knative queue-proxy sidecar (configured by its environment)', load: async () => (await import('./proxy.js')).proxyCommand },
  fn: { summary: 'serve a function module as a Knative Service container or an OpenWhisk action (fn serve); scaffold one (fn new)', load: async () => (await import('./fn.js')).fnCommand },
  prefetch: { summary: 'pre-warm functions on Knative or OpenWhisk from the adapter\'s /metrics (own process)', load: async () => (await import('./prefetch.js')).prefetchCommand },
  sim: { summary: 'simulate prefetch policies on a real trace (cold starts vs wasted memory)', load: async () => (await import('./sim.js')).simCommand },
  replay: { summary: 'replay a real trace over MQTT; publish-to-reply latency, cold starts, losses, plot', load: async () => (await import('./replay.js')).replayCommand },
  openwhisk: { summary: 'openwhisk deploy: create or update the functions as OpenWhisk actions', load: async () => (await import('./openwhiskDeploy.js')).openwhiskDeployCommand },
  broker: { summary: 'broker passwd: add, change or remove a user of the embedded broker\'s users file', load: async () => (await import('./brokerPasswd.js')).brokerCommand },
}
