import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Registry } from 'prom-client'
import { listen } from './listen.js'

/** Serves a request beside /metrics (the dashboard) and says so; false: not one of its own. */
export type ExtraHandler = (req: IncomingMessage, res: ServerResponse) => boolean

/**
 * GET /metrics in the Prometheus text format from the given registry; GET /healthz for liveness. `extra`
 * handlers are asked first for anything else (the dashboard mounts itself this way).
 */
export async function startMetricsServer (registry: Registry, host: string, port: number, extra: ExtraHandler[] = []): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url?.startsWith('/metrics?') === true)) {
      registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': registry.contentType })
        res.end(text)
      }, (err: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' })
        res.end(err.message)
      })
      return
    }
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok')
      return
    }
    for (const h of extra) if (h(req, res)) return
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics')
  })
  const bound = await listen(server, port, host, { setting: 'metrics.port', envVar: 'IOTLESS_METRICS_PORT' })
  return {
    server,
    port: bound,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
