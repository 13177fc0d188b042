/**
 * The OTLP/HTTP (JSON or protobuf) traces receiver of bench/tracing/run.ts and spanCost.ts, in its own process:
 * counts each export's spans (protobuf: by walking tags and lengths, countSpans.ts; JSON: parsed), answers 200.
 * With BENCH_OTLP_DECODE=1 it decodes every protobuf span into objects as well (test/helpers/otlpProtobuf.ts:
 * what a receiver did before; it costs more CPU than the adapter's tracing). Reports the count over IPC on request.
 */
import { createServer } from 'node:http'
import { parseTraceRequest } from '../../test/helpers/otlpProtobuf.js'
import { countProtobufSpans } from './countSpans.js'

const DECODE = process.env.BENCH_OTLP_DECODE === '1'
let spans = 0
let requests = 0
const server = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    requests++
    const ct = req.headers['content-type']
    const raw = Buffer.concat(chunks)
    if (!DECODE && ct?.startsWith('application/x-protobuf') === true) spans += countProtobufSpans(raw)
    else {
      const body = parseTraceRequest(ct, raw) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: unknown[] }> }> }
      for (const rs of body.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => process.send?.({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/traces` }))
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'report') process.send?.({ report: { spans, requests } })
  if (m.cmd === 'exit') process.exit(0)
})
