import type { Command } from './command.js'
import { runAsEntrypoint } from './runAsEntrypoint.js'
import { parseOptions } from './parseOptions.js'
import { IOTLESS_ENV, readProxyEnv } from '../proxy/env.js'
import { startQueueProxy } from '../proxy/startQueueProxy.js'

const usage = `Usage: iotless proxy

Runs the queue-proxy sidecar: a drop-in for Knative's queue-proxy (config-deployment queue-sidecar-image).
It takes no flags; it is configured entirely by the environment the Knative revision reconciler injects
(QUEUE_SERVING_PORT, USER_PORT, CONTAINER_CONCURRENCY, REVISION_TIMEOUT_SECONDS, ...). See docs/proxy.md.

Extra variables, never set by Knative:
${Object.entries(IOTLESS_ENV).map(([k, v]) => `  ${k}\n      ${v}`).join('\n')}

On SIGTERM (or SIGINT, SIGHUP) it drains (probes fail, quiet period), closes, and exits 0.`

/** One JSON line on stderr, as the zap logger of queue-proxy would; only lifecycle events, never per request. */
function logLine (level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ level, ts: new Date().toISOString(), logger: 'iotless-proxy', msg, ...fields }) + '\n')
}

export const proxyCommand: Command = {
  name: 'proxy',
  summary: 'run the slim Knative queue-proxy sidecar (configured by its environment)',
  usage,
  async run (argv) {
    parseOptions(argv, {}, usage)
    // The CLI is the one place that reads process.env; the component gets a checked, frozen config.
    const env = readProxyEnv(process.env)
    const quiet = env.loggingLevel === 'error' || env.loggingLevel === 'fatal' || env.loggingLevel === 'panic'
    const log = (msg: string, fields?: Record<string, unknown>): void => { if (!quiet) logLine('info', msg, fields) }
    const proxy = await startQueueProxy(env, { log })
    // The signal handlers go in before the line below: a supervisor (or a test) that sends SIGTERM as soon as it
    // reads the line must find them there, not Node's default (exit by signal, no drain).
    const exited = new Promise<number>((resolve) => {
      const onSignal = (sig: string): void => {
        log('signal received', { signal: sig })
        proxy.shutdown().then(() => resolve(0), (err: unknown) => {
          logLine('error', 'shutdown failed', { error: String(err) })
          resolve(1)
        })
      }
      process.once('SIGTERM', () => onSignal('SIGTERM'))
      process.once('SIGINT', () => onSignal('SIGINT'))
      process.once('SIGHUP', () => onSignal('SIGHUP'))
    })
    // One machine-readable line on stdout, so a supervisor (or a test) learns the ports it got.
    process.stdout.write(JSON.stringify({ msg: 'iotless proxy listening', ports: proxy.ports, containerConcurrency: env.containerConcurrency }) + '\n')
    return await exited
  }
}

/**
 * `node dist/cli/proxy.js` runs the proxy without loading the other commands (and their MQTT broker and
 * ML runtimes), which is the entrypoint a queue-sidecar image should use; `iotless proxy` does the same
 * through the full CLI.
 */
void runAsEntrypoint(import.meta.url, proxyCommand)
