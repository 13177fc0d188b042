import { pino, type Logger, type DestinationStream } from 'pino'

export type { Logger }

export interface LogOptions {
  level: string
  /** Where lines go; stdout when absent. Tests pass a stream to read them back. */
  destination?: DestinationStream
}

/** Secrets never reach a log line: these fields are censored wherever they appear. */
const REDACT = ['password', '*.password', 'apiKey', '*.apiKey', 'authorization', '*.authorization', '*.headers.authorization']

export function createLogger (opts: LogOptions): Logger {
  const options = { level: opts.level, base: { name: 'iotless' }, redact: { paths: REDACT, censor: '[redacted]' } }
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination)
}
