import { setMaxListeners } from 'node:events'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt'
import { randomUUID } from 'node:crypto'
import { systemClock, type Clock } from '../../core/clock.js'
import { toBatchBody } from '../../core/cloudEventHttp.js'
import { IotlessError, type ErrorCode } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Metrics } from '../../core/metrics.js'
import type { DispatchResult, OutgoingEvent, ReplyPayload, Target } from '../target.js'
import { AckSequencer, type AckTicket } from './ackSequencer.js'
import { Batcher } from './batcher.js'
import { sniffContentType } from './buildEvent.js'
import { deadLetterEvent } from './deadLetter.js'
import { eventFromMessage } from './eventFromMessage.js'
import { stableEventId } from './stableEventId.js'
import { renderTopicTemplate } from './topicPattern.js'
import type { Route, RouteTable, RouteMatch } from './routeTable.js'

/** TLS and credentials for the broker connection; the CLI reads the files and secrets. */
export interface BrokerSecurity {
  username?: string | undefined
  password?: string | undefined
  ca?: Buffer | undefined
  cert?: Buffer | undefined
  key?: Buffer | undefined
  rejectUnauthorized?: boolean | undefined
}

export interface MqttAdapterOptions {
  url: string
  clientId: string
  protocol: 'auto' | '5' | '3.1.1'
  keepaliveSeconds: number
  connectTimeoutMs: number
  /** MQTT 5 session expiry, so the broker keeps the session (and queued messages) while the adapter is away. */
  sessionExpirySeconds: number
  /** MQTT 5 Receive Maximum: unacknowledged QoS 1/2 deliveries the broker may have outstanding to us. */
  maxInFlight: number
  routes: RouteTable
  /** Targets by name; a route's `target` picks one (`local` is the embedded pool). */
  targets: ReadonlyMap<string, Target>
  maxPayloadBytes: number
  /** Attempts for results a target marks retryable, with exponential backoff from retryBaseMs (a route may override). */
  maxAttempts: number
  retryBaseMs: number
  /** Dead-letter topic template for routes that set none; '' : none. */
  deadLetterTopic: string
  security?: BrokerSecurity | undefined
  clock?: Clock | undefined
  log: Logger
  metrics?: Metrics | undefined
}

/** How one route's handling of a message ended: acknowledge it, or leave it to the broker to send again. */
type Outcome = 'ack' | 'leave'

interface BatchItem { event: OutgoingEvent; match: RouteMatch; packet: IPublishPacket; payload: Buffer }

interface RouteState {
  inFlight: number
  batcher?: Batcher<BatchItem, Outcome[]>
}

interface PendingAck {
  /** The PUBACK or PUBREC mqtt.js produced, held until the message has been handled. */
  packet?: Packet
  handled: boolean
  /** False when the message must not be acknowledged (stopping, or its dead letter could not be published). */
  ack: boolean
  epoch: number
  ticket?: AckTicket<PendingAck>
}

type SendPacket = (packet: Packet, cb?: (err?: Error) => void, cbStorePut?: () => void, noStore?: boolean) => void

/** CONNACK codes that mean "not this protocol version": 3.1.1 code 1, and MQTT 5 reason 0x84 (132). */
function isProtocolRefusal (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return code === 1 || code === 132 || /protocol version/i.test((err as Error).message ?? '')
}

function redact (url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    return u.toString().replace(/\/$/, '')
  } catch {
    return url
  }
}

/**
 * The MQTT ingress. Subscribes to every route's filter, turns each message into a CloudEvent, hands it to the
 * target, publishes the reply, and only then acknowledges the message (at least once, end to end).
 *
 * mqtt.js handles the next incoming packet only after the previous one's PUBACK is sent (client.ts `work`),
 * so acknowledging from inside `customHandleAcks` would serialise all invocations, and would deadlock an
 * invocation waiting for its reply's PUBACK. Instead the adapter lets mqtt.js go on at once, holds back the
 * PUBACK/PUBREC it produces, and sends it when the message is handled, in arrival order [MQTT-4.6.0-2].
 */
export class MqttAdapter {
  readonly #o: MqttAdapterOptions
  readonly source: string
  #client: MqttClient | undefined
  #sendPacket: SendPacket | undefined
  #protocolVersion: 4 | 5 = 4
  #accepting = true
  #epoch = 0
  #inFlight = 0
  #lastMessageAt = 0
  #idleWaiters: Array<() => void> = []
  readonly #acks = new AckSequencer<PendingAck>()
  readonly #held = new Map<number, PendingAck>()
  /** Aborted when the grace period is over: in-flight dispatches are cancelled. */
  readonly #stop = new AbortController()
  /** Aborted when stop() begins: retries stop waiting and leave their message to the broker. */
  readonly #stopping = new AbortController()
  readonly #clock: Clock
  readonly #routeState = new Map<Route, RouteState>()
  /** mqtt.js callbacks held while a route is full: the client reads no further packet until one is called. */
  #paused: Array<() => void> = []
  #fullRoutes = 0
  #corked = false

  constructor (opts: MqttAdapterOptions) {
    // Every in-flight dispatch listens on these signals.
    setMaxListeners(0, this.#stop.signal)
    setMaxListeners(0, this.#stopping.signal)
    this.#o = opts
    this.#clock = opts.clock ?? systemClock
    this.source = `${redact(opts.url)}/${encodeURIComponent(opts.clientId)}`
    for (const route of opts.routes.routes) {
      if (!opts.targets.has(route.target)) throw new IotlessError('CONFIG_INVALID', `${route.label}.target: no target named "${route.target}"`)
      const state: RouteState = { inFlight: 0 }
      if (route.batch !== undefined) {
        state.batcher = new Batcher<BatchItem, Outcome[]>({
          maxItems: route.batch.maxMessages,
          maxWaitMs: route.batch.maxWaitMs,
          clock: this.#clock,
          flush: (items) => this.#dispatchBatch(route, items)
        })
      }
      this.#routeState.set(route, state)
    }
  }

  /** Messages being handled by a route right now (tests and metrics). */
  routeInFlight (index: number): number {
    const route = this.#o.routes.routes[index]
    return route === undefined ? 0 : this.#routeState.get(route)?.inFlight ?? 0
  }

  /** True while some route is full and the adapter has stopped reading from the broker. */
  get paused (): boolean { return this.#paused.length > 0 }

  get protocolVersion (): 4 | 5 { return this.#protocolVersion }
  get inFlight (): number { return this.#inFlight }
  get client (): MqttClient | undefined { return this.#client }

  async start (): Promise<void> {
    const versions: Array<4 | 5> = this.#o.protocol === '5' ? [5] : this.#o.protocol === '3.1.1' ? [4] : [5, 4]
    let lastErr: unknown
    for (const version of versions) {
      try {
        this.#client = await this.#connect(version)
        this.#protocolVersion = version
        break
      } catch (err) {
        lastErr = err
        if (version === 5 && versions.length > 1 && isProtocolRefusal(err)) {
          this.#o.log.info({ url: this.source }, 'broker refused MQTT 5; using MQTT 3.1.1')
          continue
        }
        break
      }
    }
    const client = this.#client
    if (client === undefined) {
      throw new IotlessError('BROKER_CONNECT_FAILED', `cannot connect to the MQTT broker at ${this.source}: ${(lastErr as Error)?.message ?? 'unknown error'}`, { cause: lastErr })
    }
    client.options.reconnectPeriod = 1000
    client.on('message', this.#onMessage)
    client.on('connect', (connack) => {
      if (connack.sessionPresent === false) this.#o.log.warn({ url: this.source }, 'the broker kept no session for the adapter: messages published while it was away are gone')
    })
    client.on('close', () => {
      // PUBACKs still held belong to a connection that is gone; the broker resends those messages.
      this.#epoch++
      this.#held.clear()
      this.#acks.clear()
    })
    client.on('reconnect', () => { this.#o.log.warn({ url: this.source }, 'reconnecting to the MQTT broker') })
    client.on('error', (err) => {
      // A reset after our own DISCONNECT is the broker closing the socket, not a fault.
      if (this.#accepting) this.#o.log.error({ err: err.message, url: this.source }, 'mqtt client error')
      else this.#o.log.debug({ err: err.message }, 'mqtt client error while stopping')
    })
    const subs = this.#o.routes.subscriptions()
    if (Object.keys(subs).length > 0) {
      const granted = await client.subscribeAsync(subs)
      for (const g of granted) {
        if (g.qos === 128) throw new IotlessError('BROKER_CONNECT_FAILED', `the broker refused the subscription to ${g.topic}`)
      }
    }
    this.#o.log.info({ url: this.source, protocol: this.#protocolVersion === 5 ? '5' : '3.1.1', subscriptions: Object.keys(subs) }, 'adapter subscribed')
  }

  #connect (version: 4 | 5): Promise<MqttClient> {
    const o = this.#o
    const options: IClientOptions = {
      clientId: o.clientId,
      protocolVersion: version,
      clean: false,
      keepalive: o.keepaliveSeconds,
      connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: 0,
      resubscribe: true
    }
    const sec = o.security
    if (sec !== undefined) {
      if (sec.username !== undefined) options.username = sec.username
      if (sec.password !== undefined) options.password = sec.password
      if (sec.ca !== undefined) options.ca = sec.ca
      if (sec.cert !== undefined) options.cert = sec.cert
      if (sec.key !== undefined) options.key = sec.key
      if (sec.rejectUnauthorized !== undefined) options.rejectUnauthorized = sec.rejectUnauthorized
    }
    if (version === 5) options.properties = { sessionExpiryInterval: o.sessionExpirySeconds, receiveMaximum: o.maxInFlight }
    const client = mqtt.connect(o.url, options)
    // mqtt.js honours the customHandleAcks option only with protocolVersion 5 (client.ts constructor) and
    // otherwise acknowledges on receipt; the handler is read per PUBLISH, so set it for both versions here.
    client.options.customHandleAcks = (_topic, _message, packet, done) => { this.#onPublish(packet, done) }
    // Backpressure: mqtt.js reads the next packet only after handleMessage's callback (client.ts `work`);
    // while a route is full the callback waits, the socket stops being read, and TCP flow control holds
    // the broker back. QoS 1/2 deliveries are bounded by Receive Maximum too; QoS 0 only by this.
    client.handleMessage = (_packet, callback) => {
      if (this.#fullRoutes > 0 && this.#accepting) this.#paused.push(() => { callback() })
      else callback()
    }
    this.#interceptAcks(client)
    return new Promise((resolve, reject) => {
      const onConnect = (): void => { cleanup(); resolve(client) }
      const onError = (err: Error): void => { cleanup(); client.end(true); reject(err) }
      const onClose = (): void => { cleanup(); client.end(true); reject(new Error('connection closed before CONNACK')) }
      const cleanup = (): void => {
        client.off('connect', onConnect)
        client.off('error', onError)
        client.off('close', onClose)
      }
      client.once('connect', onConnect)
      client.once('error', onError)
      client.once('close', onClose)
    })
  }

  #interceptAcks (client: MqttClient): void {
    const target = client as unknown as { _sendPacket: SendPacket }
    const original = target._sendPacket.bind(client)
    this.#sendPacket = original
    target._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if ((packet.cmd === 'puback' || packet.cmd === 'pubrec') && packet.messageId !== undefined) {
        const pending = this.#held.get(packet.messageId)
        if (pending !== undefined) {
          pending.packet = packet
          cb?.()
          if (pending.handled) this.#release(pending)
          return
        }
      }
      original(packet, cb, cbStorePut, noStore)
    }
  }

  /** Called by mqtt.js for every QoS 1 and 2 PUBLISH; QoS 0 arrives as a 'message' event. */
  #onPublish (packet: IPublishPacket, done: (err: Error | number, code?: number) => void): void {
    const mid = packet.messageId
    if (mid === undefined) { done(0); return }
    const pending: PendingAck = { handled: false, ack: true, epoch: this.#epoch }
    this.#held.set(mid, pending)
    if (!this.#accepting) {
      // Stopping: hold its PUBACK for good (it is never handled), so the broker delivers it again to the
      // next session. It takes no place in the ack order: nothing after it will be acknowledged either.
      done(0)
      return
    }
    pending.ticket = this.#acks.push(pending)
    // Release the ack inside the tracked work, before the in-flight count drops: stop() disconnects as soon
    // as that count reaches zero, and a PUBACK written after DISCONNECT is lost (the message would come again).
    void this.#track(this.#handle(packet).then((outcome) => {
      if (outcome === 'leave') pending.ack = false
    }).finally(() => {
      pending.handled = true
      this.#release(pending)
    }))
    done(0)
  }

  /** Sends, in arrival order, every ack whose message is handled and whose PUBACK/PUBREC mqtt.js has produced. */
  #release (pending: PendingAck): void {
    if (pending.epoch !== this.#epoch || !pending.handled || pending.packet === undefined || pending.ticket === undefined) return
    const ready = this.#acks.complete(pending.ticket)
    if (ready.length > 0) this.#corkUntilNextTick()
    for (const p of ready) {
      const mid = p.packet?.messageId
      if (mid !== undefined) this.#held.delete(mid)
      // A message left unacknowledged stays with the broker, which sends it again to the next session.
      if (p.packet !== undefined && p.ack) this.#sendPacket?.(p.packet)
    }
  }

  /**
   * Acks released in one turn of the event loop (several invocations finishing on one read from the target)
   * leave in one socket write instead of one write each: cork now, uncork on the next tick.
   */
  #corkUntilNextTick (): void {
    const stream = this.#client?.stream
    if (this.#corked || stream === undefined || typeof stream.cork !== 'function') return
    this.#corked = true
    stream.cork()
    process.nextTick(() => {
      this.#corked = false
      stream.uncork()
    })
  }

  #onMessage = (_topic: string, _payload: Buffer, packet: IPublishPacket): void => {
    if (packet.qos !== 0 || !this.#accepting) return
    void this.#track(this.#handle(packet).then(() => undefined))
  }

  async #track (work: Promise<void>): Promise<void> {
    this.#inFlight++
    this.#lastMessageAt = Date.now()
    try {
      await work
    } catch (err) {
      this.#o.log.error({ err: (err as Error).message }, 'message handling failed')
    } finally {
      this.#inFlight--
      if (this.#inFlight === 0) {
        const waiters = this.#idleWaiters
        this.#idleWaiters = []
        for (const w of waiters) w()
      }
    }
  }

  async #handle (packet: IPublishPacket): Promise<Outcome> {
    const { log, metrics } = this.#o
    const topic = packet.topic
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
    const matches = this.#o.routes.match(topic)
    if (matches.length === 0) {
      metrics?.messagesUnrouted.inc()
      log.debug({ code: 'NO_ROUTE', topic }, 'message matched no route')
      return 'ack'
    }
    const outcomes = await Promise.all(matches.map((m) => this.#handleRoute(m, packet, payload)))
    return outcomes.includes('leave') ? 'leave' : 'ack'
  }

  /** One route's share of a message: checks, event, dispatch (alone or batched), reply, dead letter. */
  async #handleRoute (match: RouteMatch, packet: IPublishPacket, payload: Buffer): Promise<Outcome> {
    const { metrics } = this.#o
    const { route } = match
    metrics?.messagesReceived.inc({ route: route.label })
    const state = this.#routeState.get(route) as RouteState
    this.#enter(route, state)
    try {
      const id = packet.qos > 0 && packet.messageId !== undefined
        ? stableEventId(this.source, packet.topic, packet.messageId, payload)
        : randomUUID()
      if (route.topicPrefix !== undefined && !packet.topic.startsWith(route.topicPrefix)) {
        metrics?.messagesRejected.inc({ reason: 'topic_not_allowed' })
        return await this.#deadLetter(match, packet, payload, undefined, 'TOPIC_NOT_ALLOWED', `topic is outside the route's topicPrefix "${route.topicPrefix}"`, 0)
      }
      if (payload.length > this.#o.maxPayloadBytes) {
        metrics?.messagesRejected.inc({ reason: 'payload_too_large' })
        return await this.#deadLetter(match, packet, payload, undefined, 'PAYLOAD_TOO_LARGE', `${payload.length} bytes is more than adapter.maxPayloadBytes (${this.#o.maxPayloadBytes})`, 0)
      }
      const props = packet.properties
      const built = eventFromMessage({ topic: packet.topic, payload, contentType: props?.contentType, userProperties: props?.userProperties }, route.type, this.source, new Date(), id)
      if (!built.ok) {
        metrics?.messagesRejected.inc({ reason: 'cloudevent_invalid' })
        return await this.#deadLetter(match, packet, payload, undefined, built.code, built.message, 0)
      }
      const event = built.event
      // A wrapped payload without an MQTT 5 content type was sniffed already: its datacontenttype says it.
      const sniffed = built.mode === 'wrapped' && props?.contentType === undefined
      if (route.accept === 'json' && (sniffed ? event.attributes.datacontenttype : sniffContentType(event.data)) !== 'application/json') {
        metrics?.messagesRejected.inc({ reason: 'payload_not_json' })
        return await this.#deadLetter(match, packet, payload, event, 'PAYLOAD_NOT_JSON', 'the route accepts JSON only and the payload does not parse as JSON', 0)
      }
      if (state.batcher !== undefined) {
        const outcomes = await state.batcher.add({ event, match, packet, payload })
        return outcomes.includes('leave') ? 'leave' : 'ack'
      }
      const { result, attempts } = await this.#dispatchWithRetry(route, (target, signal) => target.dispatch(route.functionName, event, { signal }))
      if (result === undefined) return 'leave'
      if (result.status === 'rejected') return await this.#deadLetter(match, packet, payload, event, result.code, result.message, attempts, result.httpStatus)
      if (result.reply !== undefined) await this.#publishReply(match, packet, result.reply, event)
      return 'ack'
    } finally {
      this.#leave(route, state)
    }
  }

  #enter (route: Route, state: RouteState): void {
    state.inFlight++
    if (state.inFlight === route.maxInFlight) this.#fullRoutes++
  }

  #leave (route: Route, state: RouteState): void {
    if (state.inFlight === route.maxInFlight) this.#fullRoutes--
    state.inFlight--
    if (this.#fullRoutes === 0 && this.#paused.length > 0) this.#resumeReading()
  }

  #resumeReading (): void {
    const paused = this.#paused
    this.#paused = []
    for (const cb of paused) cb()
  }

  /**
   * Sends through the route's target, retrying what may pass next time (the target says so: Knative
   * Eventing's classes for HTTP) with exponential backoff and jitter, or the target's Retry-After.
   * Undefined: stopping interrupted it, so the message is left to the broker.
   */
  async #dispatchWithRetry (route: Route, send: (target: Target, signal: AbortSignal) => Promise<DispatchResult>): Promise<{ result: DispatchResult | undefined; attempts: number }> {
    const target = this.#o.targets.get(route.target) as Target
    const maxAttempts = route.maxAttempts ?? this.#o.maxAttempts
    let result: DispatchResult | undefined
    let attempt = 0
    while (attempt < maxAttempts) {
      attempt++
      try {
        result = await send(target, this.#stop.signal)
      } catch (err) {
        result = { status: 'rejected', retryable: true, code: 'FUNCTION_HANDLER_ERROR', message: (err as Error).message }
      }
      if (result.status === 'ok' || !result.retryable) break
      if (this.#stop.signal.aborted || this.#stopping.signal.aborted) return { result: undefined, attempts: attempt }
      if (attempt === maxAttempts) break
      this.#o.metrics?.retries.inc({ route: route.label })
      const backoff = Math.min(5000, this.#o.retryBaseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
      const delayMs = Math.min(60_000, Math.max(backoff, result.retryAfterMs ?? 0))
      if (!await this.#sleep(delayMs)) return { result: undefined, attempts: attempt }
    }
    return { result, attempts: attempt }
  }

  /** Waits, unless stop() begins first (then false). */
  #sleep (ms: number): Promise<boolean> {
    const signal = this.#stopping.signal
    if (signal.aborted) return Promise.resolve(false)
    return new Promise((resolve) => {
      const onAbort = (): void => { this.#clock.clearTimeout(timer); resolve(false) }
      const timer = this.#clock.setTimeout(() => { signal.removeEventListener('abort', onAbort); resolve(true) }, ms)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** One invocation for a whole batch; every message's outcome follows the batch's. */
  async #dispatchBatch (route: Route, items: BatchItem[]): Promise<Outcome[]> {
    this.#o.metrics?.batchSize.observe({ route: route.label }, items.length)
    const events = items.map((i) => i.event)
    const { result, attempts } = await this.#dispatchWithRetry(route, (target, signal) => target.dispatchBatch !== undefined
      ? target.dispatchBatch(route.functionName, events, { signal })
      : target.dispatch(route.functionName, { attributes: batchAttributes(events, this.source), data: toBatchBody(events) }, { signal }))
    if (result === undefined) return items.map(() => 'leave')
    if (result.status === 'rejected') {
      return await Promise.all(items.map((i) => this.#deadLetter(i.match, i.packet, i.payload, i.event, result.code, result.message, attempts, result.httpStatus)))
    }
    const replies = result.reply === undefined ? undefined : splitBatchReply(result.reply, items.length)
    if (replies !== undefined) {
      await Promise.all(items.map((item, k) => {
        const reply = replies[k]
        return reply === undefined ? Promise.resolve() : this.#publishReply(item.match, item.packet, reply, item.event)
      }))
    }
    return items.map(() => 'ack')
  }

  async #publishReply (match: RouteMatch, packet: IPublishPacket, reply: ReplyPayload, event: OutgoingEvent): Promise<void> {
    const { log, metrics } = this.#o
    const { route, params } = match
    const props = packet.properties
    const responseTopic = props?.responseTopic
    const replyTopic = responseTopic ?? (route.replyTemplate === undefined ? undefined : renderTopicTemplate(route.replyTemplate, params))
    if (replyTopic === undefined) return
    const client = this.#client
    if (client === undefined) return
    const publishOpts: mqtt.IClientPublishOptions = { qos: route.qos }
    if (this.#protocolVersion === 5) {
      publishOpts.properties = { contentType: reply.contentType }
      if (responseTopic !== undefined && props?.correlationData !== undefined) publishOpts.properties.correlationData = props.correlationData
      // A reply that is itself a CloudEvent (binary-mode HTTP) goes out in MQTT 5 binary mode: its attributes
      // as User Properties, datacontenttype as the Content Type.
      const userProperties: Record<string, string> = {}
      for (const [k, v] of Object.entries(reply.attributes ?? {})) if (v !== undefined && k !== 'datacontenttype') userProperties[k] = v
      const traceparent = reply.traceparent ?? event.attributes.traceparent
      if (traceparent !== undefined) userProperties.traceparent = traceparent
      if (Object.keys(userProperties).length > 0) publishOpts.properties.userProperties = userProperties
    }
    try {
      await client.publishAsync(replyTopic, reply.data, publishOpts)
      metrics?.repliesPublished.inc({ route: route.label })
    } catch (err) {
      log.error({ function: route.functionName, topic: replyTopic, err: (err as Error).message }, 'reply publish failed')
    }
  }

  /**
   * Publishes the message, with why it failed, to the route's dead-letter topic (QoS 1), and only then lets it
   * be acknowledged. With no dead-letter topic the message is logged, counted and acknowledged (dropped).
   */
  async #deadLetter (match: RouteMatch, packet: IPublishPacket, payload: Buffer, event: OutgoingEvent | undefined, code: ErrorCode, reason: string, attempts: number, httpStatus?: number): Promise<Outcome> {
    const { log, metrics } = this.#o
    const { route, params } = match
    metrics?.deadLetters.inc({ route: route.label, code })
    const template = route.deadLetterTemplate ?? this.#o.deadLetterTopic
    const logFields = { code, route: route.label, function: route.functionName, topic: packet.topic, attempts, httpStatus, err: reason }
    if (template === '') {
      log.error(logFields, 'message failed and no dead-letter topic is set: dropped')
      return 'ack'
    }
    const client = this.#client
    if (client === undefined) return 'leave'
    const topic = renderTopicTemplate(template, params)
    const body = deadLetterEvent({
      attributes: event?.attributes,
      topic: packet.topic,
      payload,
      route: route.label,
      function: route.functionName,
      code,
      reason,
      attempts,
      httpStatus,
      destination: `${route.target}:${route.functionName}`,
      source: this.source,
      id: randomUUID(),
      now: new Date()
    })
    const opts: mqtt.IClientPublishOptions = { qos: 1 }
    if (this.#protocolVersion === 5) opts.properties = { contentType: 'application/cloudevents+json' }
    try {
      await client.publishAsync(topic, body, opts)
      log.warn({ ...logFields, deadLetterTopic: topic }, 'message sent to the dead-letter topic')
      return 'ack'
    } catch (err) {
      log.error({ ...logFields, deadLetterTopic: topic, publishErr: (err as Error).message }, 'dead letter could not be published: the message stays unacknowledged')
      return 'leave'
    }
  }

  /** Resolves when nothing is in flight and no message arrived for quietMs (or after timeoutMs). */
  async waitQuiet (quietMs: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const quietFor = Date.now() - this.#lastMessageAt
      if (this.#inFlight === 0 && quietFor >= quietMs) return true
      if (Date.now() >= deadline) return false
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, Math.min(quietMs - quietFor, 20))))
    }
  }

  /** Resolves when nothing is in flight, or false after timeoutMs. */
  whenIdle (timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.#idleWaiters.push(() => { clearTimeout(timer); resolve(true) })
    })
  }

  /**
   * Graceful stop: take no new messages (they stay unacknowledged, so the broker keeps them for the next
   * session), let in-flight ones finish and be acknowledged, then disconnect.
   */
  async stop (graceMs: number): Promise<void> {
    this.#accepting = false
    this.#stopping.abort()
    for (const state of this.#routeState.values()) state.batcher?.flushNow()
    this.#resumeReading()
    const idle = await this.whenIdle(graceMs)
    if (!idle) {
      this.#o.log.error({ code: 'SHUTDOWN_TIMEOUT', inFlight: this.#inFlight, graceMs }, 'in-flight messages did not finish in time; they stay unacknowledged')
      this.#stop.abort(new IotlessError('SHUTDOWN_TIMEOUT', 'adapter stopped'))
    }
    const client = this.#client
    if (client !== undefined) await client.endAsync(false)
  }
}

/** Attributes for a batch sent to a target that has no batch call of its own (the body says it all). */
function batchAttributes (events: OutgoingEvent[], source: string): OutgoingEvent['attributes'] {
  const first = events[0]
  return { specversion: '1.0', id: randomUUID(), source, type: first?.attributes.type ?? 'io.iotless.batch', datacontenttype: 'application/cloudevents-batch+json' }
}

/**
 * A batch's reply is split per message only when it is a CloudEvents batch (or a JSON array) with exactly
 * one element per message; element k answers message k. Anything else is not published.
 */
export function splitBatchReply (reply: ReplyPayload, n: number): Array<ReplyPayload | undefined> | undefined {
  const ct = reply.contentType.split(';')[0]?.trim().toLowerCase()
  if (ct !== 'application/cloudevents-batch+json' && ct !== 'application/json') return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(reply.data.toString('utf8'))
  } catch {
    return undefined
  }
  if (!Array.isArray(parsed) || parsed.length !== n) return undefined
  return parsed.map((el: unknown) => {
    if (el === null || el === undefined) return undefined
    if (ct === 'application/cloudevents-batch+json' && typeof el === 'object' && !Array.isArray(el)) {
      const ev = el as Record<string, unknown>
      const contentType = typeof ev.datacontenttype === 'string' ? ev.datacontenttype : 'application/json'
      if (typeof ev.data_base64 === 'string') return { data: Buffer.from(ev.data_base64, 'base64'), contentType }
      if (ev.data === undefined) return undefined
      return { data: Buffer.from(typeof ev.data === 'string' && !contentType.includes('json') ? ev.data : JSON.stringify(ev.data)), contentType }
    }
    return { data: Buffer.from(JSON.stringify(el)), contentType: 'application/json' }
  })
}
