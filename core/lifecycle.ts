import type { Logger } from './log.js'

/** The signals every long-running command treats as "stop gracefully". */
export const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/**
 * Ordered shutdown. Parts register a stop step as they start; steps run in reverse order of registration
 * (the last thing started is the first stopped), each once, even if a signal arrives twice.
 * As in Knative's queue-proxy (sharedmain/main.go): stop taking work first, let in-flight work finish,
 * then close servers.
 */
export class Lifecycle {
  #steps: Array<{ name: string; stop: () => Promise<void> }> = []
  #stopping: Promise<void> | undefined
  readonly #log: Logger

  constructor (log: Logger) { this.#log = log }

  add (name: string, stop: () => Promise<void>): void {
    this.#steps.push({ name, stop })
  }

  get stopping (): boolean { return this.#stopping !== undefined }

  /** Runs every stop step once; later calls return the same promise. A failing step is logged and the rest still run. */
  shutdown (reason: string): Promise<void> {
    this.#stopping ??= (async () => {
      this.#log.info({ reason }, 'shutting down')
      for (const step of [...this.#steps].reverse()) {
        try {
          await step.stop()
        } catch (err) {
          this.#log.error({ err, step: step.name }, 'stop step failed')
        }
      }
      this.#log.info('stopped')
    })()
    return this.#stopping
  }

  /**
   * SIGINT, SIGTERM and SIGHUP start a graceful shutdown and then exit 0. SIGHUP is what a closing terminal or
   * an ssh session that drops sends (and `nohup`-less supervisors); without a handler Node dies at once, losing
   * in-flight work, so it is treated as a stop, not a reload (iotless reads its config once). A second signal at least 2 s later exits at once
   * with 130; one sooner is ignored, because `npm start` and a terminal's Ctrl-C can both deliver the same one.
   * Returns a function that removes the handlers.
   */
  handleSignals (proc: NodeJS.Process = process): () => void {
    let firstAt = 0
    const onSignal = (signal: NodeJS.Signals): void => {
      if (this.stopping) {
        if (Date.now() - firstAt < 2000) return
        this.#log.warn({ signal }, 'second signal while stopping: exiting now')
        proc.exit(130)
      }
      firstAt = Date.now()
      this.shutdown(signal).then(() => proc.exit(0), () => proc.exit(1))
    }
    for (const sig of STOP_SIGNALS) proc.on(sig, onSignal)
    return () => {
      for (const sig of STOP_SIGNALS) proc.off(sig, onSignal)
    }
  }
}
