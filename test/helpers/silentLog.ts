import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../core/log.js'

/** A logger whose lines are kept in memory, so tests can assert on what was logged. */
export function memoryLog (level = 'debug'): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const destination = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
      cb()
    }
  })
  return { log: createLogger({ level, destination: destination as unknown as import('pino').DestinationStream }), lines }
}
