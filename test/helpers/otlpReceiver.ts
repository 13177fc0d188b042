import { createServer, type Server } from 'node:http'
import { parseTraceRequest } from './otlpProtobuf.js'

/** One span as an OTLP/HTTP JSON export carries it, with the service that sent it. */
export interface ReceivedSpan {
  service: string
  traceId: string
  spanId: string
  parentSpanId: string
  name: string
  kind: number
  attributes: Record<string, string | number | boolean>
  statusCode: number
}

interface OtlpValue { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number }
interface OtlpAttr { key: string; value: OtlpValue }
interface OtlpBody {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpAttr[] }
    scopeSpans?: Array<{ spans?: Array<{ traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes?: OtlpAttr[]; status?: { code?: number } }> }>
  }>
}

function attrs (list: OtlpAttr[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {}
  for (const a of list ?? []) out[a.key] = a.value.stringValue ?? (a.value.intValue !== undefined ? Number(a.value.intValue) : undefined) ?? a.value.boolValue ?? a.value.doubleValue ?? ''
  return out
}

/** A local OTLP/HTTP (JSON or protobuf) traces receiver on loopback, port 0: what a collector would get. */
export async function startOtlpReceiver (opts: { keep?: boolean } = {}): Promise<{ url: string; spans: ReceivedSpan[]; requests: number; close: () => Promise<void> }> {
  const spans: ReceivedSpan[] = []
  const state = { requests: 0 }
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      state.requests++
      if (req.method !== 'POST' || req.url !== '/v1/traces') { res.writeHead(404).end(); return }
      if (opts.keep !== false) {
        const body = parseTraceRequest(req.headers['content-type'], Buffer.concat(chunks)) as OtlpBody
        for (const rs of body.resourceSpans ?? []) {
          const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '')
          for (const ss of rs.scopeSpans ?? []) {
            for (const s of ss.spans ?? []) {
              spans.push({ service, traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, attributes: attrs(s.attributes), statusCode: s.status?.code ?? 0 })
            }
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spans,
    get requests () { return state.requests },
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()) })
  }
}
