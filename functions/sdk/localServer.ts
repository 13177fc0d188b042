import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { HandlerTracer } from '../../core/tracing/otelTracer.js'
import type { DefinedFunction, InitContext } from './defineFunction.js'
import { encodeReply } from './encodeReply.js'
import { BadEventError, eventFromRequest } from './eventFromRequest.js'
import { isFunctionInputError } from './functionInputError.js'
import { WARMUP_EVENT_TYPE, WARMUP_HEADER } from './warmup.js'

/** Largest event body an instance accepts: 8 MiB, far above the adapter's default 256 KiB limit. */
export const MAX_BODY_BYTES = 8 * 1024 * 1024

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

function readBody (req: IncomingMessage): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > MAX_BODY_BYTES) { resolve(undefined); req.resume(); return }
      chunks.push(c)
    })
    req.on('end', () => { resolve(size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks)) })
    req.on('error', reject)
  })
}

/**
 * The local server of one pool instance: after init, it serves the function on loopback.
 * POST / takes a binary-mode CloudEvent and answers 200 with the reply, 204 for no reply (and for a warm-up:
 * the header WARMUP_HEADER or an event of type WARMUP_EVENT_TYPE, without calling the handler),
 * 400 { code: FUNCTION_BAD_INPUT } when the handler throws a FunctionInputError,
 * or 500 with { code, error } when the handler throws anything else.
 */
/** `tracer`: wraps each handler call in a span joined to the event's traceparent (tracing.enabled); none: no tracing. */
export async function startLocalServer<S> (fn: DefinedFunction<S>, ctx: InitContext, port = 0, tracer?: HandlerTracer): Promise<{ server: Server; port: number }> {
  const state = (fn.init === undefined ? undefined : await fn.init(ctx)) as S
  const handleCtx = { ...ctx, state }
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') { sendJson(res, 200, { ready: true }); return }
    if (req.method !== 'POST' || req.url !== '/') { sendJson(res, 404, { code: 'NOT_FOUND', error: `no route ${req.method ?? ''} ${req.url ?? ''}` }); return }
    readBody(req).then(async (body) => {
      if (body === undefined) { sendJson(res, 413, { code: 'PAYLOAD_TOO_LARGE', error: `event body over ${MAX_BODY_BYTES} bytes` }); return }
      // init has run before this server listens, so a warm-up is answered at once.
      if (req.headers[WARMUP_HEADER] !== undefined) { res.writeHead(204, { [WARMUP_HEADER]: 'done' }).end(); return }
      let event
      try {
        event = eventFromRequest(req.headers, body)
      } catch (err) {
        sendJson(res, 400, { code: 'BAD_EVENT', error: err instanceof BadEventError ? err.message : String(err) })
        return
      }
      if (event.type === WARMUP_EVENT_TYPE) { res.writeHead(204, { [WARMUP_HEADER]: 'done' }).end(); return }
      let result
      try {
        const e = event
        result = tracer === undefined ? await fn.handle(e, handleCtx) : await tracer.around(ctx.name, e, async () => await fn.handle(e, handleCtx))
      } catch (err) {
        if (isFunctionInputError(err)) { sendJson(res, 400, { code: err.code, error: err.message }); return }
        sendJson(res, 500, { code: 'FUNCTION_HANDLER_ERROR', error: err instanceof Error ? err.message : String(err) })
        return
      }
      let reply
      try {
        reply = encodeReply(result)
      } catch (err) {
        sendJson(res, 500, { code: 'FUNCTION_BAD_REPLY', error: (err as Error).message })
        return
      }
      if (reply === undefined) { res.writeHead(204).end(); return }
      res.writeHead(200, { 'content-type': reply.contentType, 'content-length': reply.body.length })
      res.end(reply.body)
    }).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { code: 'FUNCTION_HANDLER_ERROR', error: String(err) })
    })
  })
  server.keepAliveTimeout = 0 // the pool holds connections open for the instance's whole life
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve() })
  })
  return { server, port: (server.address() as AddressInfo).port }
}
