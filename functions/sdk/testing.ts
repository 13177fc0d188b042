/**
 * `iotless/sdk/testing`: run a function's handler in a test, without a server, a socket or a child process.
 *
 * The event takes the path a served function's events take: its data is encoded as a binary-mode CloudEvent
 * (JSON data as JSON, a string as UTF-8 text, bytes as they are) and decoded again as the local pool and
 * `iotless fn serve` decode it, so the handler sees what it will see in production (JSON parsed, anything
 * else as a Buffer). The reply is encoded as the servers encode it, and a reply they would refuse fails here
 * too (FUNCTION_BAD_REPLY).
 */
import { randomUUID } from 'node:crypto'
import { CloudEvent } from 'cloudevents'
import { isJsonContentType, toBinaryHeaders, type CloudEventAttributes } from '../../core/cloudEventHttp.js'
import type { Metrics } from '../../core/metrics.js'
import type { ActivationInfo, DefinedFunction, HandleContext, InitContext } from './defineFunction.js'
import { eventFromRequest } from './eventFromRequest.js'
import { FunctionHost, type Outcome } from './functionHost.js'
import { mediaType } from './structuredEvent.js'

export interface TestEventInit {
  /** The event data: bytes (Buffer, Uint8Array) pass as they are, a string as text, anything else as JSON. */
  data?: unknown
  /** Default: `dev.iotless.test`. */
  type?: string
  /** Default: `/iotless/test`. */
  source?: string
  /** Default: a random UUID. */
  id?: string
  /** The MQTT topic, as the adapter sets it. */
  subject?: string
  time?: string
  /** Default from the data: application/json, text/plain; charset=utf-8, or application/octet-stream. */
  datacontenttype?: string
  /** Extension attributes (lower-case letters and digits), e.g. `{ streamid: 'mic-1' }`. */
  extensions?: Record<string, string>
}

function defaultContentType (data: unknown): string | undefined {
  if (data === undefined) return undefined
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) return 'application/octet-stream'
  if (typeof data === 'string') return 'text/plain; charset=utf-8'
  return 'application/json'
}

const RESERVED = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data'])

/** A CloudEvent for a test: `testEvent({ data: { temp: 24.5 }, subject: 'sensors/20/reading' })`. */
export function testEvent (init: TestEventInit = {}): CloudEvent<unknown> {
  const { data, extensions, ...attrs } = init
  for (const k of Object.keys(extensions ?? {})) {
    if (!/^[a-z0-9]{1,20}$/.test(k)) throw new TypeError(`testEvent: extension name ${JSON.stringify(k)} must be 1 to 20 lower-case letters or digits`)
    if (RESERVED.has(k)) throw new TypeError(`testEvent: ${k} is a context attribute, not an extension: give it as testEvent({ ${k} })`)
  }
  const datacontenttype = attrs.datacontenttype ?? defaultContentType(data)
  return new CloudEvent<unknown>({
    specversion: '1.0',
    id: attrs.id ?? randomUUID(),
    source: attrs.source ?? '/iotless/test',
    type: attrs.type ?? 'dev.iotless.test',
    ...(attrs.subject === undefined ? {} : { subject: attrs.subject }),
    ...(attrs.time === undefined ? {} : { time: attrs.time }),
    ...(datacontenttype === undefined ? {} : { datacontenttype }),
    ...extensions,
    ...(data === undefined ? {} : { data })
  }, false)
}

function bodyOf (event: CloudEvent<unknown>): Buffer {
  const data = event.data
  if (data === undefined || data === null) return Buffer.alloc(0)
  if (Buffer.isBuffer(data)) return data
  if (data instanceof Uint8Array) return Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  // A string is the payload's text (as an MQTT payload is bytes), whatever the content type says.
  if (typeof data === 'string') return Buffer.from(data, 'utf8')
  return Buffer.from(JSON.stringify(data), 'utf8')
}

/** The event as it arrives at a served function: through binary-mode headers and body, decoded by the SDK. */
function overTheWire (event: CloudEvent<unknown>): CloudEvent<unknown> {
  const attrs: Record<string, string> = {}
  for (const [k, v] of Object.entries(event.toJSON())) {
    if (k === 'data' || k === 'data_base64' || v === undefined || v === null) continue
    attrs[k] = String(v)
  }
  return eventFromRequest(toBinaryHeaders(attrs as unknown as CloudEventAttributes), bodyOf(event))
}

/** A reply as a caller receives it. */
export interface TestReply {
  /** Decoded from the body: the JSON value for a JSON content type, a string for text, else a Buffer. */
  data: unknown
  /** The bytes a served function would send. */
  body: Buffer
  contentType: string
  /** The reply event's extension attributes (`ce-` headers under Knative). */
  extensions: Record<string, string>
}

export type InvokeErrorCode = 'FUNCTION_BAD_INPUT' | 'FUNCTION_HANDLER_ERROR' | 'FUNCTION_BAD_REPLY' | 'FUNCTION_INIT_FAILED'

/**
 * What a served function answers with an error status: `code` (as in docs/errors.md), `status` (the HTTP
 * status `iotless fn serve` and the local pool answer), and `cause`, what the function threw.
 */
export class InvokeError extends Error {
  readonly code: InvokeErrorCode
  readonly status: number
  constructor (code: InvokeErrorCode, status: number, message: string, cause: unknown) {
    super(`${code}: ${message}`, { cause })
    this.name = 'InvokeError'
    this.code = code
    this.status = status
  }
}

function toReply (o: Outcome): TestReply | undefined | InvokeError {
  if (o.kind === 'warmup') return undefined
  if (o.kind === 'error') return new InvokeError(o.code, o.status, o.message, o.cause)
  if (o.reply === undefined) return undefined
  const { body, contentType } = o.reply
  const data = isJsonContentType(contentType)
    ? JSON.parse(body.toString('utf8')) as unknown
    : mediaType(contentType).startsWith('text/') ? body.toString('utf8') : body
  return { data, body, contentType, extensions: { ...o.extensions } }
}

export interface TestOptions {
  /** `ctx.config`, as `functions.<name>.config` in iotless.yaml or `--config` of `iotless fn serve`. Default {}. */
  config?: Record<string, unknown>
  /** `ctx.name`. Default `test`. */
  name?: string
  /** `ctx.activation` on every call, to test a function as it runs as an OpenWhisk action. */
  activation?: ActivationInfo
  /** `ctx.metrics`, as `iotless fn serve` gives it (createMetrics of a prom-client Registry). Default: none. */
  metrics?: Metrics
}

/** One instance of a function for a test: init runs once, on the first call, and its state is kept between calls. */
export interface TestInstance<S> {
  /** One event; resolves with the reply (undefined for none), rejects with an InvokeError. */
  invoke: (event: CloudEvent<unknown>) => Promise<TestReply | undefined>
  /** A batch in one call (handleBatch where the function has it); one entry per event, an InvokeError for one that failed. */
  invokeBatch: (events: ReadonlyArray<CloudEvent<unknown>>) => Promise<Array<TestReply | undefined | InvokeError>>
  /** What init returned (runs init if no call has yet). */
  state: () => Promise<S>
}

export function testInstance<S> (fn: DefinedFunction<S>, options: TestOptions = {}): TestInstance<S> {
  const ctx: InitContext = { name: options.name ?? 'test', config: Object.freeze({ ...options.config }) }
  if (options.metrics !== undefined) ctx.metrics = options.metrics
  const host = new FunctionHost(fn, ctx)
  const extra: Partial<HandleContext<S>> = options.activation === undefined ? {} : { activation: options.activation }
  const init = async (): Promise<HandleContext<S>> => {
    try {
      return await host.init()
    } catch (err) {
      throw new InvokeError('FUNCTION_INIT_FAILED', 503, err instanceof Error ? err.message : String(err), err)
    }
  }
  const run = async (events: ReadonlyArray<CloudEvent<unknown>>): Promise<Array<TestReply | undefined | InvokeError>> => {
    const wire = events.map(overTheWire)
    await init()
    return (await host.invoke(wire, extra)).map(toReply)
  }
  return {
    async invoke (event) {
      const [r] = await run([event])
      if (r instanceof InvokeError) throw r
      return r
    },
    invokeBatch: run,
    async state () { return (await init()).state }
  }
}

/**
 * Runs one event through a function, with init first: `const reply = await invoke(fn, testEvent({ data }))`.
 * Resolves with the reply (undefined when the handler returns none); rejects with an InvokeError whose code
 * says what a served function would answer (FUNCTION_BAD_INPUT for a FunctionInputError, ...).
 */
export async function invoke<S> (fn: DefinedFunction<S>, event: CloudEvent<unknown>, options: TestOptions = {}): Promise<TestReply | undefined> {
  return await testInstance(fn, options).invoke(event)
}
