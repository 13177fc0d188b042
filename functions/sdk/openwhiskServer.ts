import { randomUUID } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http'
import { CloudEvent } from 'cloudevents'
import { isJsonContentType } from '../../core/cloudEventHttp.js'
import { listen } from '../../core/listen.js'
import type { ActivationInfo, DefinedFunction, HandleResult, InitContext } from './defineFunction.js'
import type { HandlerTracer } from '../../core/tracing/otelTracer.js'
import { FunctionHost } from './functionHost.js'
import { isFunctionInputError } from './functionInputError.js'
import { readBody } from './readBody.js'
import { eventFromJson } from './structuredEvent.js'
import { WARMUP_PARAM } from './warmup.js'

/** The Node.js runtime's body limit (express.json({ limit: "48mb" })). */
export const OW_MAX_BODY_BYTES = 48 * 1024 * 1024
export const OW_ACTIVATION_MARKER = 'XXX_THE_END_OF_A_WHISK_ACTIVATION_XXX'
/** The CloudEvent type handed to the handler when the params are not themselves a CloudEvent. */
export const OW_EVENT_TYPE = 'dev.iotless.openwhisk.activation'

export interface OpenWhiskServerOptions {
  port: number
  host: string
  /**
   * The process environment. As the Node.js runtime does, /init copies `value.env` into it and /run copies
   * every string key of its body but `value` into `__OW_<KEY>`.
   */
  env: Record<string, string | undefined>
  /** `__OW_RUNTIME_PLATFORM=knative`: the single-entrypoint protocol on POST / instead of /init and /run. */
  singleEntrypoint?: boolean
  /** `__OW_ALLOW_CONCURRENT=true`: overlapping /run calls are allowed. */
  allowConcurrent?: boolean
  /** Where the activation end markers go (stdout and stderr by default). */
  out?: { write: (s: string) => unknown }
  err?: { write: (s: string) => unknown }
  maxBodyBytes?: number
  /** A span around each activation's handler, joined through the event's traceparent (serveTracing.ts); none: no tracing. */
  tracer?: HandlerTracer | undefined
}

export interface OpenWhiskServer { server: Server; port: number; close: () => Promise<void> }

type Status = 'ready' | 'starting' | 'running' | 'stopped'
interface Answer { code: number; response: unknown }

const BAD_REQUEST: Answer = { code: 500, response: { error: 'Bad request.' } }
const errorAnswer = (code: number, error: string): Answer => ({ code, response: { error } })

/** serialize-error's shape for an Error (own enumerable properties, then name, message, stack), as the runtime resolves a rejection. */
function serializeError (err: unknown): unknown {
  if (!(err instanceof Error)) return err === undefined || err === null ? {} : err
  const out: Record<string, unknown> = { ...err as unknown as Record<string, unknown> }
  out.name = err.name
  out.message = err.message
  if (err.stack !== undefined) out.stack = err.stack
  return out
}

/** Builds the event for the handler: params that are a CloudEvent in the JSON format are taken as one; others become its JSON data. */
export function eventFromParams (value: Record<string, unknown>, activation: ActivationInfo): CloudEvent<unknown> {
  if (typeof value.specversion === 'string') return eventFromJson(value, 'params')
  return new CloudEvent<unknown>({
    specversion: '1.0',
    id: activation.activationId ?? randomUUID(),
    source: `/openwhisk/${activation.namespace ?? '_'}/${activation.actionName ?? 'action'}`,
    type: OW_EVENT_TYPE,
    datacontenttype: 'application/json',
    data: value
  }, false)
}

/** The handler's return value as an OpenWhisk result: `{ data }` gives data, bytes give { data_base64, datacontenttype }. */
function toResult (r: HandleResult | unknown): unknown {
  if (r === undefined) return {}
  if (typeof r !== 'object' || r === null || !('data' in r)) return r
  const { data, contentType } = r as { data: unknown; contentType?: string }
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) return { data_base64: Buffer.from(data).toString('base64'), datacontenttype: contentType ?? 'application/octet-stream' }
  return data
}

function activationFrom (body: Record<string, unknown>): ActivationInfo {
  const s = (k: string): string | undefined => typeof body[k] === 'string' ? body[k] : undefined
  const deadline = s('deadline')
  const info: ActivationInfo = {}
  const ns = s('namespace'); if (ns !== undefined) info.namespace = ns
  const an = s('action_name'); if (an !== undefined) info.actionName = an
  const id = s('activation_id'); if (id !== undefined) info.activationId = id
  if (deadline !== undefined && /^\d+$/.test(deadline)) info.deadlineMs = Number(deadline)
  return info
}

/**
 * Serves a function as an OpenWhisk action, with the Node.js runtime's protocol, codes and bodies
 * (openwhisk-runtime-nodejs core/nodejsActionBase: app.js, src/service.js, runner.js, platform/knative.js).
 * The module is fixed when the server starts, so /init takes no code: it runs the function's init once.
 */
export async function startOpenWhiskServer<S> (fn: DefinedFunction<S>, ctx: InitContext, opts: OpenWhiskServerOptions): Promise<OpenWhiskServer> {
  const host = new FunctionHost(fn, ctx)
  const limit = opts.maxBodyBytes ?? OW_MAX_BODY_BYTES
  const out = opts.out ?? process.stdout
  const err = opts.err ?? process.stderr
  const env = opts.env
  let status: Status = 'ready'
  const setStatus = (s: Status): void => { if (status !== 'stopped') status = s }
  const markers = (): void => { out.write(OW_ACTIVATION_MARKER + '\n'); err.write(OW_ACTIVATION_MARKER + '\n') }

  async function initCode (body: Record<string, unknown>): Promise<Answer> {
    if (status === 'ready' && !host.initialized) {
      setStatus('starting')
      const value = (body.value ?? {}) as Record<string, unknown>
      if (typeof value.env === 'object' && value.env !== null) {
        for (const [k, v] of Object.entries(value.env as Record<string, unknown>)) {
          env[k] = typeof v !== 'object' || v === null ? (v ? String(v) : '') : JSON.stringify(v)
        }
      }
      try {
        await host.init()
        setStatus('ready')
        return { code: 200, response: { OK: true } }
      } catch (e) {
        err.write(`Error during initialization: ${String(e)}\n`)
        markers()
        setStatus('stopped')
        return errorAnswer(502, `Initialization has failed due to: ${e instanceof Error && e.stack !== undefined ? e.stack : String(e)}`)
      }
    }
    if (host.initialized) return errorAnswer(403, 'Cannot initialize the action more than once.')
    return errorAnswer(403, `System not ready, status is ${status}.`)
  }

  async function runCode (body: Record<string, unknown>): Promise<Answer> {
    if (!(status === 'ready' && host.initialized)) {
      return errorAnswer(403, host.initialized ? `System not ready, status is ${status}.` : 'System not initialized.')
    }
    if (opts.allowConcurrent !== true) setStatus('running')
    if (body.value === null || body.value === undefined) body.value = {}
    else if (typeof body.value !== 'object') {
      return errorAnswer(403, `Internal system error: the argument must be a dictionary but has type '${typeof body.value}'.`)
    }
    for (const [k, v] of Object.entries(body)) if (typeof v === 'string' && k !== 'value') env['__OW_' + k.toUpperCase()] = v
    const value = body.value as Record<string, unknown>
    const finish = (answer: Answer): Answer => {
      if (opts.allowConcurrent !== true) setStatus('ready')
      return answer
    }
    if (value[WARMUP_PARAM] === true) return finish({ code: 200, response: { warm: true } })
    const activation = activationFrom(body)
    let event
    try {
      event = eventFromParams(value, activation)
    } catch (e) {
      markers()
      return finish({ code: 200, response: { error: { code: 'BAD_EVENT', message: (e as Error).message } } })
    }
    let pending: unknown
    let thrown: { e: unknown } | undefined
    const span = opts.tracer?.start(ctx.name, event, activation.activationId === undefined ? undefined : { 'faas.invocation_id': activation.activationId })
    try {
      // Called without await first, as runner.js does: a synchronous throw stops the container (502);
      // a rejected promise is an application error, resolved as { error }. A FunctionInputError is always
      // an application error: the input was bad, the container is fine.
      pending = fn.handle(event, { ...host.handleCtx, activation })
    } catch (e) {
      if (isFunctionInputError(e)) pending = Promise.reject(e)
      else thrown = { e }
    }
    if (thrown !== undefined) {
      const e = thrown.e
      span?.end(e instanceof Error ? e.message : String(e))
      err.write(`${e instanceof Error && e.stack !== undefined ? e.stack : String(e)}\n`)
      markers()
      setStatus('stopped')
      return errorAnswer(502, `An error has occurred: ${String(e)}`)
    }
    let result: unknown
    try {
      result = toResult(await pending)
      span?.end()
    } catch (e) {
      result = { error: serializeError(e) }
      span?.end(e instanceof Error ? e.message : String(e))
    }
    if (typeof result !== 'object') err.write(`Result must be of type object but has type "${typeof result}": ${String(result)}\n`)
    markers()
    if (typeof result !== 'object') return finish(errorAnswer(502, 'The action did not return a dictionary.'))
    return finish({ code: 200, response: result })
  }

  function send (res: ServerResponse, a: Answer): void {
    const text = JSON.stringify(a.response) ?? ''
    res.writeHead(a.code, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }

  /** platform/knative.js postProcessResponse: statusCode, headers and body in the result shape the HTTP answer. */
  function sendWeb (res: ServerResponse, reqHeaders: IncomingHttpHeaders, a: Answer): void {
    let status = a.code
    let body: unknown = a.response
    const result = (typeof a.response === 'object' && a.response !== null ? a.response : {}) as Record<string, unknown>
    let headers: Record<string, string> = {}
    if (result.statusCode !== undefined) { status = Number(result.statusCode); delete result.statusCode }
    if (typeof result.headers === 'object' && result.headers !== null) { headers = { ...result.headers as Record<string, string> }; delete result.headers }
    if ('content-type' in headers) { headers['Content-Type'] = headers['content-type'] as string; delete headers['content-type'] }
    const typed = 'Content-Type' in headers
    if (result.body !== undefined) body = result.body
    if (!typed) headers['Content-Type'] = typeof result.body === 'string' ? 'text/html' : 'application/json'
    let payload: Buffer
    if (typed && (headers['Content-Type'] ?? '').startsWith('image') && typeof body === 'string') {
      payload = Buffer.from(body, 'base64')
      headers['Content-Transfer-Encoding'] = 'binary'
    } else {
      payload = Buffer.from(typeof body === 'string' ? body : (JSON.stringify(body) ?? ''), 'utf8')
    }
    if (status === 200 && body === '') status = 204
    headers['Access-Control-Allow-Origin'] ??= '*'
    headers['Access-Control-Allow-Methods'] ??= 'OPTIONS, GET, DELETE, POST, PUT, HEAD, PATCH'
    const acrh = reqHeaders['access-control-request-headers']
    headers['Access-Control-Allow-Headers'] = typeof acrh === 'string' ? acrh : 'Authorization, Origin, X - Requested - With, Content - Type, Accept, User - Agent'
    res.writeHead(status, { ...headers, 'content-length': payload.length })
    res.end(status === 204 ? undefined : payload)
  }

  /** platform/knative.js run(), for a pre-specialised runtime (its code is fixed, like __OW_ACTION_CODE). */
  async function singleEntrypoint (body: Record<string, unknown>, headers: IncomingHttpHeaders, method: string): Promise<Answer | undefined> {
    if (body.init !== undefined) return errorAnswer(500, 'internal error during request processing.')
    const activation = (typeof body.activation === 'object' && body.activation !== null ? body.activation : undefined) as Record<string, unknown> | undefined
    const value = (typeof body.value === 'object' && body.value !== null ? body.value : {}) as Record<string, unknown>
    body.value = value
    if (activation !== undefined && body.value !== undefined) {
      value.__ow_user = env.__OW_NAMESPACE ?? ''
      value.__ow_method = method
      value.__ow_headers = headers
      value.__ow_path = ''
      for (const [k, v] of Object.entries(activation)) if (typeof v === 'string') env['__OW_' + k.toUpperCase()] = v
    }
    if (!host.initialized) {
      const init = await initCode({ value: {} })
      if (init.code !== 200) return init
    }
    return runCode({ ...body, ...(activation ?? {}), value })
  }

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    const route = req.method === 'POST' && (opts.singleEntrypoint === true ? path === '/' : path === '/init' || path === '/run')
    readBody(req, limit).then(async (raw) => {
      // express.json: bodies over the limit and bad JSON reach the error handler, which answers 500 "Bad request.".
      if (raw === undefined) { send(res, BAD_REQUEST); return }
      let body: Record<string, unknown> = {}
      if (raw.length > 0 && isJsonContentType(req.headers['content-type'])) {
        let parsed: unknown
        try { parsed = JSON.parse(raw.toString('utf8')) } catch { send(res, BAD_REQUEST); return }
        if (typeof parsed !== 'object' || parsed === null) { send(res, BAD_REQUEST); return }
        body = parsed as Record<string, unknown>
      }
      if (!route) { send(res, BAD_REQUEST); return }
      if (opts.singleEntrypoint === true) {
        const a = await singleEntrypoint(body, req.headers, req.method ?? 'POST')
        if (a === undefined) return
        if (a.code === 200) sendWeb(res, req.headers, a)
        else send(res, a)
        return
      }
      send(res, path === '/init' ? await initCode(body) : await runCode(body))
    }).catch(() => {
      if (!res.headersSent) send(res, errorAnswer(500, 'Internal error during function execution.'))
    })
  })
  server.timeout = 0
  const port = await listen(server, opts.port, opts.host, { setting: '--port', envVar: 'PORT' })
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeIdleConnections() })
  }
}
