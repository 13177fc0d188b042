import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { rootCertificates } from 'node:tls'
import openwhisk from 'openwhisk'
import { isJsonContentType, type CloudEventAttributes } from '../../core/cloudEventHttp.js'
import { IotlessError } from '../../core/errors.js'
import { redactSecrets } from '../../core/redact.js'
import { RequestAborts } from './requestAborts.js'
import { classifyHttpStatus, classifyTransportError } from './retryClass.js'
import type { DispatchResult, OutgoingEvent, Target } from '../target.js'

export interface OpenWhiskTargetOptions {
  /**
   * The OpenWhisk API host, e.g. `https://openwhisk.example.com` or `localhost:3233`; without a scheme,
   * https:// is assumed (as the openwhisk client and `wsk` do). `/api/v1/` is appended.
   */
  apiHost: string
  /** `uuid:key`, as `wsk property get --auth` shows it. The caller reads it with readSecret, never from the config file. */
  apiKey: string
  /** Namespace in the invoke path. Default `_`: the key's own namespace. */
  namespace?: string
  /** Wait for the result (`?blocking=true`). Default true. False: every invoke is a 202 with an activation id. */
  blocking?: boolean
  /** Accept any TLS certificate (a development deployment with a self-signed one). Default false. */
  ignoreCerts?: boolean
  /** PEM text of CA certificates to trust for https, in addition to Node's bundled roots. */
  ca?: string
  /**
   * Client-side limit for one invocation. Default 70000 ms: the controller waits at most 60000 ms for a
   * blocking activation (`max-wait-for-blocking-activation`) and then answers 202 on its own.
   */
  timeoutMs?: number
  /** Most open keep-alive connections to the API host. Default 64. */
  connections?: number
}

/** The CloudEvent attributes travel in this one parameter. */
export const CLOUDEVENT_PARAM = 'cloudevent'

type Params = Record<string, unknown>

/** What actions.invoke is given; `signal` is passed through by the client to needle (3.x supports it). */
interface InvokeRequest {
  name: string
  namespace: string
  blocking: boolean
  params: Params
  signal: AbortSignal
}

/** What the client throws for a status ≥ 400 or a failed request (openwhisk lib/openwhisk_error.js). */
interface OpenWhiskError { message?: unknown; error?: unknown; statusCode?: unknown }

/**
 * An OpenWhisk action as a Target, invoked through the `openwhisk` npm client
 * (POST /api/v1/namespaces/{ns}/actions/{[pkg/]action}?blocking=...). The route's function name is the
 * action name (`action` or `package/action`). Outcomes per OpenWhisk's controller (Actions.scala):
 * 200 ok (reply = the result), 202 ok with the activation id, 429 throttled (retryable), 502 action
 * error (not retried), 401/403 bad key (not retried), others as Knative Eventing's retry rule.
 * The client's own retries are off (no `retry` option is given; async-retry runs only when one is), so the
 * adapter's backoff is the only one. The key never appears in a result message.
 */
export class OpenWhiskTarget implements Target {
  readonly kind = 'openwhisk'
  readonly #client: openwhisk.Client
  readonly #agent: HttpAgent | HttpsAgent
  readonly #namespace: string
  readonly #blocking: boolean
  readonly #timeoutMs: number
  /** The caller's signal and the deadline, shared by every request (requestAborts.ts). */
  readonly #aborts: RequestAborts
  readonly #secrets: string[]
  #closed = false

  /** Throws IotlessError TARGET_URL_INVALID for an apiHost that is not an http(s) URL or a host, SECRET_EMPTY for an empty key. */
  constructor (options: OpenWhiskTargetOptions) {
    const key = options.apiKey.trim()
    if (key === '') throw new IotlessError('SECRET_EMPTY', 'OpenWhisk apiKey is empty')
    const colon = key.indexOf(':')
    this.#secrets = colon > 0 ? [key, key.slice(colon + 1)] : [key]
    const url = openWhiskApiUrl(options.apiHost)
    const maxSockets = options.connections ?? 64
    this.#agent = url.protocol === 'http:'
      ? new HttpAgent({ keepAlive: true, maxSockets })
      : new HttpsAgent({
        keepAlive: true,
        maxSockets,
        rejectUnauthorized: options.ignoreCerts !== true,
        ...(options.ca === undefined || options.ca.trim() === '' ? {} : { ca: [...rootCertificates, options.ca] })
      })
    this.#client = openwhisk({
      api: new URL('api/v1/', url.href.endsWith('/') ? url.href : url.href + '/').href,
      api_key: key,
      ignore_certs: options.ignoreCerts === true,
      agent: this.#agent
    })
    this.#namespace = options.namespace ?? '_'
    this.#blocking = options.blocking ?? true
    this.#timeoutMs = options.timeoutMs ?? 70_000
    this.#aborts = new RequestAborts(this.#timeoutMs)
  }

  async dispatch (functionName: string, event: OutgoingEvent, opts: { signal?: AbortSignal } = {}): Promise<DispatchResult> {
    if (this.#closed) return { status: 'rejected', retryable: false, code: 'POOL_CLOSED', message: 'openwhisk target is closed' }
    // needle takes only a real AbortSignal: one AbortController per request, which the shared deadline queue and
    // the caller's signal abort (not an AbortSignal.timeout and an AbortSignal.any per request).
    const s = this.#aborts.open(opts.signal)
    const controller = new AbortController()
    if (s.aborted) controller.abort(s.reason)
    else s.addEventListener('abort', () => { controller.abort(s.reason) })
    const signal = controller.signal
    const request: InvokeRequest = { name: functionName, namespace: this.#namespace, blocking: this.#blocking, params: openWhiskParams(event), signal }
    const actions = this.#client.actions
    try {
      const body = await (actions.invoke as unknown as (o: InvokeRequest) => Promise<unknown>).call(actions, request)
      return this.#success(functionName, body)
    } catch (err) {
      return this.#failure(functionName, err, { aborted: opts.signal?.aborted === true, timedOut: s.timedOut && opts.signal?.aborted !== true })
    } finally {
      this.#aborts.close(s)
    }
  }

  async close (): Promise<void> {
    this.#closed = true
    this.#agent.destroy()
  }

  #success (action: string, body: unknown): DispatchResult {
    const b = isObject(body) ? body : {}
    const activationId = typeof b.activationId === 'string' ? b.activationId : undefined
    const response = b.response
    if (!isObject(response)) {
      // 202: non-blocking, or blocking past the controller's wait. Only {activationId}.
      return activationId === undefined ? { status: 'ok' } : { status: 'ok', activationId }
    }
    if (response.success === false) {
      return { status: 'rejected', retryable: false, code: 'OPENWHISK_FUNCTION_ERROR', message: this.#redact(`action ${action} failed${activationId === undefined ? '' : ` (activation ${activationId})`}: ${errorText(b)}`) }
    }
    const result = response.result
    if (result === undefined || result === null || (isObject(result) && Object.keys(result).length === 0)) return { status: 'ok' }
    return { status: 'ok', reply: { data: Buffer.from(JSON.stringify(result)), contentType: 'application/json' } }
  }

  #failure (action: string, err: unknown, state: { aborted: boolean; timedOut: boolean }): DispatchResult {
    const e: OpenWhiskError = isObject(err) ? err : {}
    const status = typeof e.statusCode === 'number' ? e.statusCode : undefined
    if (status === undefined || state.aborted || state.timedOut) {
      const message = typeof e.message === 'string' ? e.message.replace(/^Unknown Error From API: /, '') : String(err)
      // The client keeps only the message of a socket error; its code (ECONNREFUSED...) is in the text.
      const code = /\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+|ERR_TLS_[A-Z_]+)\b/.exec(message)?.[1]
      const tls = /certificate|self[- ]signed/i.test(message)
      const failure = tls && !state.aborted && !state.timedOut
        ? { code: 'TARGET_TLS' as const, retryable: true }
        : classifyTransportError(code === undefined ? err : { code }, state)
      const text = failure.code === 'TARGET_TIMEOUT' ? `no answer within timeoutMs ${this.#timeoutMs} ms` : failure.code === 'TARGET_ABORTED' ? 'request cancelled' : message
      return { status: 'rejected', retryable: failure.retryable, code: failure.code, message: this.#redact(`openwhisk action ${action}: ${text}`) }
    }
    const bodyText = errorText(e.error)
    const activationId = isObject(e.error) && typeof e.error.activationId === 'string' ? ` (activation ${e.error.activationId})` : ''
    const base = { status: 'rejected' as const, httpStatus: status }
    if (status === 401 || status === 403) {
      return { ...base, retryable: false, code: 'OPENWHISK_AUTH', message: this.#redact(`openwhisk refused the API key for action ${action} (${status}): ${bodyText}`) }
    }
    if (status === 429) return { ...base, retryable: true, code: 'OPENWHISK_THROTTLED', message: this.#redact(`openwhisk throttled action ${action} (429): ${bodyText}`) }
    if (status === 502) return { ...base, retryable: false, code: 'OPENWHISK_FUNCTION_ERROR', message: this.#redact(`action ${action} failed${activationId} (502): ${bodyText}`) }
    return { ...base, retryable: classifyHttpStatus(status).retryable, code: 'TARGET_HTTP_STATUS', message: this.#redact(`openwhisk action ${action} answered ${status}: ${bodyText}`) }
  }

  #redact (text: string): string {
    return redactSecrets(text, this.#secrets)
  }
}

/**
 * The params an action gets for an event:
 * - JSON data (datacontenttype application/json or +json) that is an object: its fields, spread;
 * - other JSON (array, number, string...): `{ data: <the value> }`;
 * - text (text/*, or no datacontenttype, and valid UTF-8): `{ data: "<the text>" }`;
 * - anything else: `{ data_base64: "<base64>" }`, the name CloudEvents' JSON format uses;
 * and always `cloudevent`: the CloudEvent attributes (`id`, `source`, `type`, `subject` = the MQTT topic,
 * `time`, `datacontenttype`, extensions). A `cloudevent` field in the data is replaced by the attributes.
 */
export function openWhiskParams (event: OutgoingEvent): Params {
  const attrs: Record<string, string> = {}
  for (const [k, v] of Object.entries(event.attributes as CloudEventAttributes)) if (v !== undefined) attrs[k] = v
  return { ...dataParams(event.data, event.attributes.datacontenttype), [CLOUDEVENT_PARAM]: attrs }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

function dataParams (data: Buffer, contentType: string | undefined): Params {
  if (isJsonContentType(contentType)) {
    try {
      const value: unknown = JSON.parse(data.toString('utf8'))
      return isObject(value) ? { ...value } : { data: value }
    } catch {
      // Not JSON after all: sent as text or bytes below.
    }
  }
  const base = contentType?.split(';')[0]?.trim().toLowerCase()
  if (base === undefined || base === '' || base.startsWith('text/') || isJsonContentType(contentType)) {
    try {
      return { data: UTF8.decode(data) }
    } catch {
      // Not UTF-8: bytes.
    }
  }
  return { data_base64: data.toString('base64') }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v)
}

/** The error text of an OpenWhisk error body: `{error: "..."}`, or an activation whose result is `{error}`. */
function errorText (body: unknown): string {
  if (!isObject(body)) return typeof body === 'string' && body !== '' ? body.slice(0, 500) : 'no error text'
  if (typeof body.error === 'string') return body.error.slice(0, 500)
  const response = body.response
  if (isObject(response)) {
    const result = response.result
    if (isObject(result) && result.error !== undefined) {
      return (typeof result.error === 'string' ? result.error : JSON.stringify(result.error)).slice(0, 500)
    }
    if (typeof response.status === 'string') return response.status
  }
  return JSON.stringify(body).slice(0, 500)
}

/** The API host as a URL (https:// assumed without a scheme), or TARGET_URL_INVALID; also run by the start-up config check. */
export function openWhiskApiUrl (apiHost: string): URL {
  const base = /^[a-z][a-z0-9+.-]*:\/\//i.test(apiHost) ? apiHost : `https://${apiHost}`
  let url: URL
  try {
    url = new URL(base)
  } catch {
    throw new IotlessError('TARGET_URL_INVALID', `OpenWhisk apiHost ${JSON.stringify(apiHost)} is not a host or URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new IotlessError('TARGET_URL_INVALID', `OpenWhisk apiHost must be http:// or https://, not ${url.protocol}//`)
  }
  return url
}
