import type { CommandEntry } from './command.js'

/**
 * Every subcommand, in the order `iotless --help` lists them. A command's module is imported only when
 * that command runs, so `iotless proxy` loads the proxy and nothing else (no MQTT broker, no ML runtime).
 * Later components add one line each:
 *   name: { summary: 'one line for --help', load: async () => (await import('./name.js')).nameCommand },
 */
export const commands: Record<string, CommandEntry> = {
  up: { summary: 'run the embedded stack: broker, adapter, local functions, /metrics', load: async () => (await import('./up.js')).upCommand },
  proxy: { summary: 'Run the slim Knative queue-proxy sidecar (configured by its environment).', load: async () => (await import('./proxy.js')).proxyCommand },
  sim: { summary: 'simulate prefetch policies on a real trace (cold starts vs wasted memory)', load: async () => (await import('./sim.js')).simCommand }
}
