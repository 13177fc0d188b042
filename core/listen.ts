import type { Server as NetServer } from 'node:net'
import { IotlessError } from './errors.js'

export interface ListenHint {
  /** The config field that sets this port, e.g. broker.port. */
  setting: string
  /** Its environment override, e.g. IOTLESS_BROKER_PORT. */
  envVar: string
  /** A sentence about what commonly holds the port, if anything. */
  extra?: string
  /** False for ports only the environment sets (the queue-proxy's): the message then names no iotless.yaml. */
  inConfigFile?: boolean
}

/** listen() with EADDRINUSE and EACCES turned into errors that name the port and how to choose another. */
export function listen (server: NetServer, port: number, host: string, hint: ListenHint): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening)
      if (err.code === 'EADDRINUSE') {
        const next = port === 0 ? 0 : port + 1
        reject(new IotlessError('PORT_IN_USE',
          `port ${port} on ${host} is already in use (${hint.setting}).${hint.extra === undefined ? '' : ' ' + hint.extra} ` +
          (hint.inConfigFile === false
            ? `Choose another with ${hint.envVar}=${next} in the environment.`
            : `Choose another with ${hint.setting} in iotless.yaml, or ${hint.envVar}=${next} in the environment.`), { cause: err }))
      } else {
        reject(new IotlessError('LISTEN_FAILED', `cannot listen on ${host}:${port} (${hint.setting}): ${err.message}`, { cause: err }))
      }
    }
    const onListening = (): void => {
      server.off('error', onError)
      const addr = server.address()
      resolve(typeof addr === 'object' && addr !== null ? addr.port : port)
    }
    server.once('error', onError)
    server.once('listening', onListening)
    server.listen(port, host)
  })
}
