import { rootCertificates } from 'node:tls'
import { Pool } from 'undici'
import { binaryHeaderList, fromBinaryHeaders, pushTraceHeaders, type CloudEventAttributes, type TraceHeaders } from '../../core/cloudEventHttp.js'
import { handlerMsFromServerTiming } from '../placement/serverTiming.js'
import type { DispatchResult, ReplyPayload } from '../target.js'
import { RequestAborts } from './requestAborts.js'
import { classifyHttpStatus, classifyTransportError, parseRetryAfter } from './retryClass.js'

/** How binary-mode CloudEvents are POSTed; shared by the knative and sink targets. All optional. */
export interface HttpSenderOptions {
  /** Most open connections per origin (one undici Pool per origin, keep-alive). Default 64. */
  connections?: number
  /** Time to open the TCP (and TLS) connection. Default 10000 ms. */
  connectTimeoutMs?: number
  /**
   * Time from sending the request to the response headers. Default 60000 ms: a Knative Service scaled to
   * zero holds the request in the activator through its cold start.
   */
  headersTimeoutMs?: number
  /** Longest pause between two chunks of the response body. Default 30000 ms. */
  bodyTimeoutMs?: number
  /** Optional deadline for the whole request, headers and body; none by default (K_SINK_TIMEOUT sets it). */
  timeoutMs?: number
  /** How long an idle keep-alive connection is kept when the server gives no Keep-Alive hint. Default 4000 ms. */
  keepAliveTimeoutMs?: number
  /**
   * PEM text of CA certificates to trust for https, in addition to Node's bundled roots (as Knative's
   * eventingtls adds K_CA_CERTS to the system pool).
   */
  ca?: string
  /**
   * Where an event's trace context travels (cloudEventHttp.ts TraceHeaders): `both` (the default: the
   * CloudEvents extension `ce-traceparent`, which stays with the event through a broker, and the W3C
   * `traceparent` header of the hop) or `w3c` (the header only: for one hop to the function, where the
   * extension would repeat it).
   */
  traceContext?: Exclude<TraceHeaders, 'none'>
}

const BATCH_CONTENT_TYPE = 'application/cloudevents-batch+json'

/**
 * POSTs binary-mode CloudEvents (cloudevents/spec http-protocol-binding.md section 3.1) and maps the
 * outcome to a DispatchResult. One undici Pool per origin, so a `{function}` URL template gets one
 * keep-alive pool per Knative Service.
 */
export class HttpEventSender {
  readonly #o: HttpSenderOptions
  readonly #pools = new Map<string, Pool>()
  readonly #ca: string[] | undefined
  readonly #aborts: RequestAborts
  readonly #trace: TraceHeaders
  #closed = false

  constructor (options: HttpSenderOptions = {}) {
    this.#o = options
    this.#trace = options.traceContext ?? 'both'
    this.#aborts = new RequestAborts(options.timeoutMs)
    this.#ca = options.ca === undefined || options.ca.trim() === '' ? undefined : [...rootCertificates, options.ca]
  }

  async send (url: URL, attributes: CloudEventAttributes, data: Buffer, opts: { signal?: AbortSignal; now?: () => number } = {}): Promise<DispatchResult> {
    const where = url.origin + url.pathname
    if (this.#closed) return { status: 'rejected', retryable: false, code: 'POOL_CLOSED', message: `target for ${where} is closed` }
    // A CloudEvents batch carries its events' attributes in the body: the content type alone says what it is.
    // The W3C Trace Context headers (traceparent, tracestate) follow the `ce-` ones, as printable ASCII only.
    const headers = attributes.datacontenttype === BATCH_CONTENT_TYPE ? pushTraceHeaders(attributes, ['content-type', BATCH_CONTENT_TYPE]) : binaryHeaderList(attributes, this.#trace)
    // No caller's signal and no deadline: no signal at all. Else one RequestSignal (requestAborts.ts), not an
    // AbortSignal.timeout and AbortSignal.any per request.
    const s = opts.signal === undefined && this.#o.timeoutMs === undefined ? undefined : this.#aborts.open(opts.signal)
    try {
      const res = await this.#pool(url).request({
        method: 'POST',
        path: url.pathname + url.search,
        headers,
        body: data,
        signal: (s ?? null) as AbortSignal | null
      })
      const body = Buffer.from(await res.body.arrayBuffer())
      const status = res.statusCode
      if (status >= 200 && status < 300) {
        const handlerMs = handlerMsFromServerTiming(res.headers['server-timing'])
        const ok: DispatchResult = status === 202 || status === 204 || body.length === 0 ? { status: 'ok' } : { status: 'ok', reply: replyOf(res.headers, body) }
        if (handlerMs !== undefined) ok.handlerMs = handlerMs
        return ok
      }
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], (opts.now ?? Date.now)())
      const result: DispatchResult = {
        status: 'rejected',
        retryable: classifyHttpStatus(status).retryable,
        code: 'TARGET_HTTP_STATUS',
        message: `${where} answered ${status}${snippet(body)}`,
        httpStatus: status
      }
      if (retryAfterMs !== undefined) result.retryAfterMs = retryAfterMs
      if (body.length === 0) result.emptyBody = true
      return result
    } catch (err) {
      const aborted = opts.signal?.aborted === true
      const timedOut = s?.timedOut === true && !aborted
      const failure = classifyTransportError(err, { aborted, timedOut })
      return { status: 'rejected', retryable: failure.retryable, code: failure.code, message: `${where}: ${describe(err, failure.code, timedOut ? this.#o.timeoutMs : undefined)}` }
    } finally {
      if (s !== undefined) this.#aborts.close(s)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((p) => p.close()))
  }

  #pool (url: URL): Pool {
    let pool = this.#pools.get(url.origin)
    if (pool === undefined) {
      pool = new Pool(url.origin, {
        connections: this.#o.connections ?? 64,
        keepAliveTimeout: this.#o.keepAliveTimeoutMs ?? 4000,
        headersTimeout: this.#o.headersTimeoutMs ?? 60_000,
        bodyTimeout: this.#o.bodyTimeoutMs ?? 30_000,
        connect: { timeout: this.#o.connectTimeoutMs ?? 10_000, ...(this.#ca === undefined ? {} : { ca: this.#ca }) }
      })
      this.#pools.set(url.origin, pool)
    }
    return pool
  }
}

function replyOf (headers: Record<string, string | string[] | undefined>, body: Buffer): ReplyPayload {
  const ct = headers['content-type']
  const reply: ReplyPayload = { data: body, contentType: typeof ct === 'string' && ct !== '' ? ct : 'application/octet-stream' }
  const attributes = fromBinaryHeaders(headers)
  if (attributes !== undefined) reply.attributes = attributes
  const tp = headers.traceparent
  const traceparent = typeof tp === 'string' ? tp : attributes?.traceparent
  if (traceparent !== undefined) reply.traceparent = traceparent
  return reply
}

/** The start of an error body, one line of printable text, for the rejection message. */
function snippet (body: Buffer): string {
  if (body.length === 0) return ''
  // eslint-disable-next-line no-control-regex -- control characters are exactly what must not reach a log line
  const text = body.subarray(0, 200).toString('utf8').replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  return text === '' ? '' : `: ${text}${body.length > 200 ? '…' : ''}`
}

function describe (err: unknown, code: string, deadlineMs: number | undefined): string {
  if (deadlineMs !== undefined) return `no complete answer within timeoutMs ${deadlineMs} ms`
  if (code === 'TARGET_ABORTED') return 'request cancelled'
  if (err instanceof Error) {
    const c = (err as { code?: unknown }).code
    const causeMsg = err.cause instanceof Error ? ` (${err.cause.message})` : ''
    return `${typeof c === 'string' ? c + ' ' : ''}${err.message}${causeMsg}`
  }
  return String(err)
}
