import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { repoRoot } from './paths.js'

export interface ReceivedRequest { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }
export type ReceiverHandler = (req: ReceivedRequest, res: ServerResponse) => void

/** PEM text of a file in test/fixtures/tls (see its README). */
export function tlsFixture (name: string): string {
  return readFileSync(resolve(repoRoot, 'test/fixtures/tls', name), 'utf8')
}

/**
 * A real HTTP (or HTTPS) server on 127.0.0.1, port 0, that keeps every request it receives and answers
 * with `handler` (default: 200, empty). `connections` counts TCP connections, to check keep-alive.
 */
export async function httpReceiver (handler: ReceiverHandler = (_req, res) => { res.end() }, tls?: { key: string; cert: string }): Promise<{
  url: string
  received: ReceivedRequest[]
  connections: () => number
  setHandler: (h: ReceiverHandler) => void
  close: () => Promise<void>
}> {
  const received: ReceivedRequest[] = []
  let current = handler
  let connections = 0
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) }
      received.push(r)
      current(r, res)
    })
  }
  const server: Server = tls === undefined ? createHttpServer(onRequest) : createHttpsServer({ key: tls.key, cert: tls.cert }, onRequest)
  server.on('connection', () => { connections++ })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    received,
    connections: () => connections,
    setHandler: (h) => { current = h },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  }
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
export { freePort as closedPort } from './freePort.js'
