import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { CloudEvent } from 'cloudevents'
import type { Registry } from 'prom-client'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { listen } from '../../core/listen.js'
import type { DefinedFunction, InitContext } from './defineFunction.js'
import { BadEventError, eventFromRequest } from './eventFromRequest.js'
import { FunctionHost, type Outcome } from './functionHost.js'
import { MAX_BODY_BYTES } from './localServer.js'
import { readBody } from './readBody.js'
import { BATCH_CONTENT_TYPE, eventsFromJsonBody, mediaType, replyAttributes, STRUCTURED_CONTENT_TYPE, structuredReply } from './structuredEvent.js'
import { WARMUP_EVENT_TYPE, WARMUP_HEADER } from './warmup.js'
import type { HandlerTracer } from '../../core/tracing/otelTracer.js'

/** CloudEvent types of the events `iotless fn serve` replies with. */
export const REPLY_EVENT_TYPE = 'dev.iotless.function.reply'
export const ERROR_EVENT_TYPE = 'dev.iotless.function.error'

export interface KnativeServerOptions {
  port: number
  host: string
  maxBodyBytes?: number
  /** Served on GET /metrics when given. */
  registry?: Registry
  /** A span around each event's handling, joined through its traceparent (serveTracing.ts); none: no tracing. */
  tracer?: HandlerTracer | undefined
}

export interface KnativeServer {
  server: Server
  port: number
  /** Resolves when init has finished (readiness turns 200), rejects when init failed. */
  ready: Promise<void>
  /** Stops taking requests (readiness 503, listener closed), lets in-flight ones finish, then resolves. */
  shutdown: () => Promise<void>
  /** How long init took, once it has run. */
  initMs: () => number | undefined
}

function sendJson (res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/**
 * Serves a function as a Knative Service container: CloudEvents over HTTP in binary, structured and batch
 * mode on POST /, the reply as a CloudEvent (binary mode for one event, a batch for a batch).
 * GET /healthz is the readiness probe: 503 until init has run (and again while draining), then 200.
 * GET /livez answers 200 while the process serves.
 */
export async function startKnativeServer<S> (fn: DefinedFunction<S>, ctx: InitContext, opts: KnativeServerOptions): Promise<KnativeServer> {
  const host = new FunctionHost(fn, ctx)
  const limit = opts.maxBodyBytes ?? MAX_BODY_BYTES
  let draining = false
  let initError: Error | undefined
  let inFlight = 0
  const open = new Set<ServerResponse>()
  let idle: (() => void) | undefined

  const handleEvents = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req, limit)
    if (body === undefined) { sendJson(res, 413, { code: 'PAYLOAD_TOO_LARGE', error: `request body over ${limit} bytes` }); return }
    if (req.headers[WARMUP_HEADER] !== undefined) {
      await host.init()
      res.writeHead(204, { [WARMUP_HEADER]: 'done' }).end()
      return
    }
    const ct = mediaType(req.headers['content-type'])
    const batch = ct === BATCH_CONTENT_TYPE
    let events: Array<CloudEvent<unknown>>
    try {
      if (body.length === 0 && (batch || ct === STRUCTURED_CONTENT_TYPE)) throw new BadEventError('empty body')
      events = batch || ct === STRUCTURED_CONTENT_TYPE ? eventsFromJsonBody(body, batch) : [eventFromRequest(req.headers, body)]
    } catch (err) {
      sendJson(res, 400, { code: 'BAD_EVENT', error: err instanceof BadEventError ? err.message : String(err) })
      return
    }
    const started = performance.now()
    const tracer = opts.tracer
    const spans = tracer === undefined ? undefined : events.map((e) => e.type === WARMUP_EVENT_TYPE ? undefined : tracer.start(ctx.name, e, batch ? { 'iotless.batch_size': events.length } : undefined))
    const outcomes = await host.invoke(events)
    spans?.forEach((s, i) => { const o = outcomes[i]; s?.end(o?.kind === 'error' ? o.code : undefined) })
    // W3C Server-Timing: the handler's own time, so a client can tell it from transport and SDK time.
    res.setHeader('server-timing', `handler;dur=${(performance.now() - started).toFixed(3)}`)
    if (batch) {
      const replies: Array<Record<string, unknown>> = []
      outcomes.forEach((o, i) => {
        const inEvent = events[i]
        if (o.kind === 'reply' && o.reply !== undefined) {
          replies.push(structuredReply(replyAttributes(ctx.name, inEvent, REPLY_EVENT_TYPE, o.extensions), o.reply))
        } else if (o.kind === 'error') {
          replies.push({ ...replyAttributes(ctx.name, inEvent, ERROR_EVENT_TYPE, undefined), datacontenttype: 'application/json', data: { code: o.code, error: o.message } })
        }
      })
      const text = JSON.stringify(replies)
      res.writeHead(200, { 'content-type': BATCH_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) }).end(text)
      return
    }
    sendSingle(res, events[0], outcomes[0] as Outcome)
  }

  const sendSingle = (res: ServerResponse, inEvent: CloudEvent<unknown> | undefined, o: Outcome): void => {
    if (o.kind === 'warmup') { res.writeHead(204, { [WARMUP_HEADER]: 'done' }).end(); return }
    if (o.kind === 'error') { sendJson(res, o.status, { code: o.code, error: o.message }); return }
    if (o.reply === undefined) { res.writeHead(204).end(); return }
    const headers = toBinaryHeaders({ ...replyAttributes(ctx.name, inEvent, REPLY_EVENT_TYPE, o.extensions), specversion: '1.0', datacontenttype: o.reply.contentType } as Parameters<typeof toBinaryHeaders>[0])
    res.writeHead(200, { ...headers, 'content-length': o.reply.body.length })
    res.end(o.reply.body)
  }

  const server = createServer((req, res) => {
    if (draining) res.setHeader('connection', 'close')
    const path = (req.url ?? '/').split('?')[0]
    if (req.method === 'GET' && path === '/healthz') {
      if (draining) sendJson(res, 503, { ready: false, reason: 'draining' })
      else if (initError !== undefined) sendJson(res, 503, { ready: false, reason: 'init failed', code: 'FUNCTION_INIT_FAILED', error: initError.message })
      else sendJson(res, host.initialized ? 200 : 503, { ready: host.initialized })
      return
    }
    if (req.method === 'GET' && path === '/livez') { sendJson(res, 200, { alive: true }); return }
    if (req.method === 'GET' && path === '/metrics' && opts.registry !== undefined) {
      const reg = opts.registry
      reg.metrics().then((text) => { res.writeHead(200, { 'content-type': reg.contentType }).end(text) },
        (err: unknown) => { sendJson(res, 500, { error: String(err) }) })
      return
    }
    if (req.method !== 'POST' || path !== '/') { sendJson(res, 404, { code: 'NOT_FOUND', error: `no route ${req.method ?? ''} ${req.url ?? ''}` }); return }
    if (initError !== undefined) { sendJson(res, 503, { code: 'FUNCTION_INIT_FAILED', error: initError.message }); return }
    inFlight++
    open.add(res)
    res.once('close', () => {
      inFlight--
      open.delete(res)
      if (inFlight === 0) idle?.()
    })
    handleEvents(req, res).catch((err: unknown) => {
      // Init failed while this request waited for it.
      if (!res.headersSent && initError !== undefined) sendJson(res, 503, { code: 'FUNCTION_INIT_FAILED', error: initError.message })
      else if (!res.headersSent) sendJson(res, 500, { code: 'FUNCTION_HANDLER_ERROR', error: err instanceof Error ? err.message : String(err) })
      else res.destroy()
    })
  })
  // Knative's queue-proxy keeps connections to the user container open; don't let Node drop them first.
  server.keepAliveTimeout = 65_000
  const port = await listen(server, opts.port, opts.host, { setting: '--port', envVar: 'PORT' })
  const ready = host.init().then(() => undefined, (err: unknown) => {
    initError = err instanceof Error ? err : new Error(String(err))
    throw initError
  })
  ready.catch(() => undefined)

  let stopping: Promise<void> | undefined
  const shutdown = (): Promise<void> => {
    stopping ??= new Promise<void>((resolve) => {
      draining = true
      for (const res of open) if (!res.headersSent) res.setHeader('connection', 'close')
      server.close()
      server.closeIdleConnections()
      // Once nothing is in flight, the connections left are idle keep-alives (the in-flight ones were
      // answered with connection: close where the answer had not started): close them, so close() ends.
      const done = (): void => { server.closeAllConnections(); resolve() }
      if (inFlight === 0) { done(); return }
      idle = done
    })
    return stopping
  }
  return { server, port, ready, shutdown, initMs: () => host.initMs }
}
