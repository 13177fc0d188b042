import { createServer, type Server } from 'node:http'
import type { Registry } from 'prom-client'
import { listen } from './listen.js'

/** GET /metrics in the Prometheus text format from the given registry; GET /healthz for liveness. */
export async function startMetricsServer (registry: Registry, host: string, port: number): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
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
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics')
  })
  const bound = await listen(server, port, host, { setting: 'metrics.port', envVar: 'IOTLESS_METRICS_PORT' })
  return {
    server,
    port: bound,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
