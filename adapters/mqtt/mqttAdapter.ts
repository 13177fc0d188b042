import { setMaxListeners } from 'node:events'
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient, type Packet } from 'mqtt'
import { IotlessError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Metrics } from '../../core/metrics.js'
import type { DispatchResult, Target } from '../target.js'
import { AckSequencer, type AckTicket } from './ackSequencer.js'
import { buildEvent } from './buildEvent.js'
import { renderTopicTemplate } from './topicPattern.js'
import type { RouteTable, RouteMatch } from './routeTable.js'

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
  target: Target
  maxPayloadBytes: number
  /** Attempts for results a target marks retryable, with exponential backoff from retryBaseMs. */
  maxAttempts: number
  retryBaseMs: number
  log: Logger
  metrics?: Metrics | undefined
}

interface PendingAck {
  /** The PUBACK or PUBREC mqtt.js produced, held until the message has been handled. */
  packet?: Packet
  handled: boolean
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
  readonly #stop = new AbortController()

  constructor (opts: MqttAdapterOptions) {
    // Every in-flight dispatch listens on this one signal.
    setMaxListeners(0, this.#stop.signal)
    this.#o = opts
    this.source = redact(opts.url)
  }

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
    if (version === 5) options.properties = { sessionExpiryInterval: o.sessionExpirySeconds, receiveMaximum: o.maxInFlight }
    const client = mqtt.connect(o.url, options)
    // mqtt.js honours the customHandleAcks option only with protocolVersion 5 (client.ts constructor) and
    // otherwise acknowledges on receipt; the handler is read per PUBLISH, so set it for both versions here.
    client.options.customHandleAcks = (_topic, _message, packet, done) => { this.#onPublish(packet, done) }
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
    const pending: PendingAck = { handled: false, epoch: this.#epoch }
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
    void this.#track(this.#handle(packet).finally(() => {
      pending.handled = true
      this.#release(pending)
    }))
    done(0)
  }

  /** Sends, in arrival order, every ack whose message is handled and whose PUBACK/PUBREC mqtt.js has produced. */
  #release (pending: PendingAck): void {
    if (pending.epoch !== this.#epoch || !pending.handled || pending.packet === undefined || pending.ticket === undefined) return
    for (const p of this.#acks.complete(pending.ticket)) {
      const mid = p.packet?.messageId
      if (mid !== undefined) this.#held.delete(mid)
      if (p.packet !== undefined) this.#sendPacket?.(p.packet)
    }
  }

  #onMessage = (_topic: string, _payload: Buffer, packet: IPublishPacket): void => {
    if (packet.qos !== 0 || !this.#accepting) return
    void this.#track(this.#handle(packet))
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

  async #handle (packet: IPublishPacket): Promise<void> {
    const { log, metrics } = this.#o
    const topic = packet.topic
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
    if (payload.length > this.#o.maxPayloadBytes) {
      metrics?.messagesRejected.inc({ reason: 'payload_too_large' })
      log.warn({ code: 'PAYLOAD_TOO_LARGE', topic, bytes: payload.length, limit: this.#o.maxPayloadBytes }, 'message refused: larger than adapter.maxPayloadBytes')
      return
    }
    const matches = this.#o.routes.match(topic)
    if (matches.length === 0) {
      metrics?.messagesUnrouted.inc()
      log.debug({ code: 'NO_ROUTE', topic }, 'message matched no route')
      return
    }
    await Promise.all(matches.map((m) => this.#invoke(m, packet, payload)))
  }

  async #invoke (match: RouteMatch, packet: IPublishPacket, payload: Buffer): Promise<void> {
    const { log, metrics, target } = this.#o
    const { route, params } = match
    metrics?.messagesReceived.inc({ route: route.label })
    const props = packet.properties
    const event = buildEvent({ topic: packet.topic, payload, contentType: props?.contentType }, route.type, this.source, new Date())
    let result: DispatchResult | undefined
    for (let attempt = 1; attempt <= this.#o.maxAttempts; attempt++) {
      try {
        result = await target.dispatch(route.functionName, event, { signal: this.#stop.signal })
      } catch (err) {
        result = { status: 'rejected', retryable: true, code: 'FUNCTION_HANDLER_ERROR', message: (err as Error).message }
      }
      if (result.status === 'ok' || !result.retryable || attempt === this.#o.maxAttempts || this.#stop.signal.aborted) break
      const delayMs = Math.min(5000, this.#o.retryBaseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2)
      await new Promise((resolve) => setTimeout(resolve, delayMs))
    }
    if (result === undefined) return
    if (result.status === 'rejected') {
      log.error({ code: result.code, function: route.functionName, topic: packet.topic, err: result.message }, 'invocation failed')
      return
    }
    const reply = result.reply
    if (reply === undefined) return
    const responseTopic = props?.responseTopic
    const replyTopic = responseTopic ?? (route.replyTemplate === undefined ? undefined : renderTopicTemplate(route.replyTemplate, params))
    if (replyTopic === undefined) return
    const client = this.#client
    if (client === undefined) return
    const publishOpts: mqtt.IClientPublishOptions = { qos: route.qos }
    if (this.#protocolVersion === 5) {
      publishOpts.properties = { contentType: reply.contentType }
      if (responseTopic !== undefined && props?.correlationData !== undefined) publishOpts.properties.correlationData = props.correlationData
    }
    try {
      await client.publishAsync(replyTopic, reply.data, publishOpts)
      metrics?.repliesPublished.inc({ route: route.label })
    } catch (err) {
      log.error({ function: route.functionName, topic: replyTopic, err: (err as Error).message }, 'reply publish failed')
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
    const idle = await this.whenIdle(graceMs)
    if (!idle) {
      this.#o.log.error({ code: 'SHUTDOWN_TIMEOUT', inFlight: this.#inFlight, graceMs }, 'in-flight messages did not finish in time; they stay unacknowledged')
      this.#stop.abort(new IotlessError('SHUTDOWN_TIMEOUT', 'adapter stopped'))
    }
    const client = this.#client
    if (client !== undefined) await client.endAsync(false)
  }
}
