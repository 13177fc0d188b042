import type { IPublishPacket, MqttClient, Packet } from 'mqtt'
import type { Logger } from '../../core/log.js'
import { AckSequencer, type AckTicket } from './ackSequencer.js'
import type { InboundMessage, Outcome } from './messagePipeline.js'

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

export interface MqttIngressOptions {
  /** Handles one message; its outcome decides whether it is acknowledged. */
  handle: (msg: InboundMessage) => Promise<Outcome>
  /** Messages being handled at once (all routes, QoS 0 included); at this many, reading waits. */
  maxInFlight: number
  /** Messages received and not yet acknowledged (handled or not: acks go in arrival order); at this many, reading waits. */
  maxUnacked: number
  log: Logger
  source: string
}

/**
 * The mqtt.js plumbing of the ingress: every PUBLISH becomes a call of `handle`, and its PUBACK/PUBREC is
 * held until `handle` settles, then sent in arrival order [MQTT-4.6.0-2].
 *
 * Flow control. This connection only receives: replies and dead letters leave on another one
 * (mqttPublisher.ts), so nothing a message waits on while it is handled ever arrives here. Reading can
 * therefore wait without deadlock, and it does so only to bound memory: while maxInFlight messages are being
 * handled, or maxUnacked are unacknowledged (the MQTT 5 Receive Maximum we advertise, enforced here for
 * 3.1.1 brokers and QoS 0), mqtt.js is not given the next packet and TCP holds the broker back. Each wait
 * ends when a message finishes, which depends only on the target and the publisher connection.
 *
 * mqtt.js handles the next incoming packet only after the previous one's PUBACK is sent (client.ts `work`),
 * so acknowledging from inside `customHandleAcks` would serialise all invocations. Instead mqtt.js goes on at
 * once, the PUBACK/PUBREC it produces is caught in `_sendPacket`, and released when the message is handled.
 */
export class MqttIngress {
  readonly #o: MqttIngressOptions
  #client: MqttClient | undefined
  #sendPacket: SendPacket | undefined
  #protocolVersion: 4 | 5 = 4
  #accepting = true
  #epoch = 0
  #inFlight = 0
  /** In flight and still being dispatched (not only waiting for the dedup record): what maxInFlight bounds. */
  #inHand = 0
  #lastMessageAt = 0
  #idleWaiters: Array<() => void> = []
  readonly #acks = new AckSequencer<PendingAck>()
  readonly #held = new Map<number, PendingAck>()
  /** mqtt.js callbacks held while paused: the client reads no further packet until one is called. */
  #paused: Array<() => void> = []
  #corked = false

  constructor (opts: MqttIngressOptions) {
    this.#o = opts
  }

  get client (): MqttClient | undefined { return this.#client }
  get protocolVersion (): 4 | 5 { return this.#protocolVersion }
  /** Messages being handled. */
  get inFlight (): number { return this.#inFlight }
  get lastMessageAt (): number { return this.#lastMessageAt }
  get paused (): boolean { return this.#paused.length > 0 }
  get accepting (): boolean { return this.#accepting }

  /** Hooks into a client before it connects (so the first PUBLISH of a persistent session is caught too). */
  prepare (client: MqttClient): void {
    // mqtt.js honours the customHandleAcks option only with protocolVersion 5 (client.ts constructor) and
    // otherwise acknowledges on receipt; the handler is read per PUBLISH, so set it for both versions here.
    client.options.customHandleAcks = (_topic, _message, packet, done) => { this.#onPublish(packet, done) }
    // Backpressure: mqtt.js reads the next packet only after handleMessage's callback (client.ts `work`).
    client.handleMessage = (_packet, callback) => {
      if (this.#accepting && this.#full()) this.#paused.push(() => { callback() })
      else callback()
    }
    this.#interceptAcks(client)
  }

  /** Takes over a connected client: its messages, its acks, its connection events. */
  attach (client: MqttClient, version: 4 | 5): void {
    const { log, source } = this.#o
    this.#client = client
    this.#protocolVersion = version
    client.on('message', this.#onMessage)
    client.on('connect', (connack) => {
      if (connack.sessionPresent === false) log.warn({ url: source }, 'the broker kept no session for the adapter: messages published while it was away are gone')
    })
    client.on('close', () => {
      // PUBACKs still held belong to a connection that is gone; the broker resends those messages.
      this.#epoch++
      this.#held.clear()
      this.#acks.clear()
      this.resumeIfAllowed()
    })
    client.on('reconnect', () => { log.warn({ url: source }, 'reconnecting to the MQTT broker') })
    client.on('error', (err) => {
      // A reset after our own DISCONNECT is the broker closing the socket, not a fault.
      if (this.#accepting) log.error({ err: err.message, url: source }, 'mqtt client error')
      else log.debug({ err: err.message }, 'mqtt client error while stopping')
    })
  }

  /** Messages received and not yet acknowledged. */
  get unacked (): number { return this.#acks.pending }

  #full (): boolean {
    return this.#inHand >= this.#o.maxInFlight || this.#acks.pending >= this.#o.maxUnacked
  }

  /** Gives mqtt.js the packets it was held back from, once the bounds allow. */
  resumeIfAllowed (): void {
    if (this.#paused.length === 0 || (this.#accepting && this.#full())) return
    const paused = this.#paused
    this.#paused = []
    for (const cb of paused) cb()
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
    void this.#track((dispatched) => this.#o.handle(toInbound(packet, dispatched)).then((outcome) => {
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
    if (ready.length > 0) this.resumeIfAllowed()
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
    void this.#track((dispatched) => this.#o.handle(toInbound(packet, dispatched)).then(() => undefined))
  }

  async #track (work: (dispatched: () => void) => Promise<void>): Promise<void> {
    this.#inFlight++
    this.#inHand++
    let released = false
    const dispatched = (): void => {
      if (released) return
      released = true
      this.#inHand--
      this.resumeIfAllowed()
    }
    this.#lastMessageAt = Date.now()
    try {
      await work(dispatched)
    } catch (err) {
      this.#o.log.error({ err: (err as Error).message }, 'message handling failed')
    } finally {
      dispatched()
      this.#inFlight--
      this.resumeIfAllowed()
      if (this.#inFlight === 0) {
        const waiters = this.#idleWaiters
        this.#idleWaiters = []
        for (const w of waiters) w()
      }
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

  /** Takes no new messages: they stay unacknowledged, so the broker keeps them for the next session. */
  stopAccepting (): void {
    this.#accepting = false
    this.resumeIfAllowed()
  }

  async end (): Promise<void> {
    const client = this.#client
    if (client !== undefined) await client.endAsync(false)
  }
}

function toInbound (packet: IPublishPacket, dispatched?: () => void): InboundMessage {
  return {
    topic: packet.topic,
    payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
    qos: packet.qos,
    messageId: packet.messageId,
    properties: packet.properties,
    dup: packet.dup,
    dispatched
  }
}
