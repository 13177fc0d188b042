/**
 * The OTLP/HTTP (JSON or protobuf) traces receiver of bench/tracing/run.ts, in its own process: parses each export, counts
 * its spans, answers 200. Reports the count over IPC on request.
 */
import { createServer } from 'node:http'
import { parseTraceRequest } from '../../test/helpers/otlpProtobuf.js'

let spans = 0
let requests = 0
const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    requests++
    const body = parseTraceRequest(req.headers['content-type'], Buffer.concat(chunks)) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: unknown[] }> }> }
    for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send?.({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces` }))
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'report') process.send?.({ report: { spans, requests } })
  if (m.cmd === 'exit') process.exit(0)
})
