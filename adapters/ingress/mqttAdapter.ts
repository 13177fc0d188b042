import { setMaxListeners } from 'node:events'
import type { MqttClient } from 'mqtt'
import { systemClock, type Clock } from '../../core/clock.js'
import { IotlessError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Metrics } from '../../core/metrics.js'
import type { MessageTracer } from '../../core/tracing/messageTracer.js'
import type { AttemptSpans } from '../../core/tracing/attemptSpans.js'
import type { Target } from '../target.js'
import type { DedupStore } from '../../effects/effectStore.js'
import type { DiskSpool } from '../spool/diskSpool.js'
import { SpoolDelivery } from '../spool/spoolDelivery.js'
import { DedupWindow } from './dedupWindow.js'
import { MessagePipeline, type InboundMessage, type Outcome } from './messagePipeline.js'
import { connectMqtt, redactUrl, type MqttConnectOptions } from './mqttConnect.js'
import { MqttIngress } from './mqttIngress.js'
import { MqttPublisher } from './mqttPublisher.js'
import type { RouteTable } from './routeTable.js'

export type { BrokerSecurity } from './mqttConnect.js'

/** The broker connection's settings are mqttConnect's; the Receive Maximum is derived here from maxUnacked. */
export interface MqttAdapterOptions extends Pick<MqttConnectOptions, 'url' | 'clientId' | 'protocol' | 'keepaliveSeconds' | 'connectTimeoutMs' | 'sessionExpirySeconds' | 'security'> {
  /** Messages being handled at once, all routes together (QoS 0 too); reading waits at this many. */
  maxInFlight: number
  /**
   * Messages received and not yet acknowledged, handled or waiting for an earlier one's turn (acks go in
   * arrival order): the MQTT 5 Receive Maximum, and enforced by reading less for 3.1.1 and QoS 0. Default
   * max(1024, maxInFlight).
   */
  maxUnacked?: number | undefined
  routes: RouteTable
  /** Targets by name; a route's `target` picks one (`local` is the embedded pool). */
  targets: ReadonlyMap<string, Target>
  maxPayloadBytes: number
  /** Attempts for results a target marks retryable, with exponential backoff from retryBaseMs (a route may override). */
  maxAttempts: number
  retryBaseMs: number
  /** Dead-letter topic template for routes that set none; '' : none. */
  deadLetterTopic: string
  /** The dedup window's store (adapter.dedup), opened by the caller; none: no window. */
  dedup?: DedupStore | undefined
  /**
   * The disk spool (adapter.spool), opened by the caller: a message is acknowledged once it is in the spool,
   * and delivered from there (docs/spool.md). None: acknowledged once handled.
   */
  spool?: DiskSpool | undefined
  clock?: Clock | undefined
  /** In [0, 1), for retry jitter; default Math.random. */
  random?: (() => number) | undefined
  log: Logger
  metrics?: Metrics | undefined
  /** Records each message's stages (core/tracing); none: no tracing work. */
  tracer?: MessageTracer | undefined
  /** Where a multi-tier route's placement finds the span of the attempt it places. */
  attemptSpans?: AttemptSpans | undefined
}

/**
 * The MQTT ingress, put together: the mqtt.js plumbing (mqttConnect.ts, mqttIngress.ts) feeds each message
 * to the per-message pipeline (messagePipeline.ts: route, event, dispatch with retry, reply or dead letter),
 * whose outcome decides the acknowledgement (at least once, end to end). This file only wires them and
 * orders start and stop.
 */
export class MqttAdapter {
  readonly #o: MqttAdapterOptions
  readonly source: string
  /** Aborted when the grace period is over: in-flight dispatches are cancelled. */
  readonly #stop = new AbortController()
  /** Aborted when stop() begins: retries stop waiting and leave their message to the broker. */
  readonly #stopping = new AbortController()
  readonly #ingress: MqttIngress
  readonly #publisher = new MqttPublisher()
  readonly #pipeline: MessagePipeline
  readonly #delivery: SpoolDelivery | undefined

  constructor (opts: MqttAdapterOptions) {
    // Every in-flight dispatch listens on these signals.
    setMaxListeners(0, this.#stop.signal)
    setMaxListeners(0, this.#stopping.signal)
    this.#o = opts
    this.source = `${redactUrl(opts.url)}/${encodeURIComponent(opts.clientId)}`
    for (const route of opts.routes.routes) {
      if (!opts.targets.has(route.target)) throw new IotlessError('CONFIG_INVALID', `${route.label}.target: no target named "${route.target}"`)
    }
    this.#ingress = new MqttIngress({
      handle: (msg) => this.#spoolOrHandle(msg),
      maxInFlight: opts.maxInFlight,
      maxUnacked: this.#maxUnacked,
      log: opts.log,
      source: this.source
    })
    this.#pipeline = new MessagePipeline({
      routes: opts.routes,
      targets: opts.targets,
      source: this.source,
      maxPayloadBytes: opts.maxPayloadBytes,
      maxAttempts: opts.maxAttempts,
      retryBaseMs: opts.retryBaseMs,
      deadLetterTopic: opts.deadLetterTopic,
      publisher: this.#publisher,
      stop: this.#stop.signal,
      stopping: this.#stopping.signal,
      clock: opts.clock ?? systemClock,
      random: opts.random,
      log: opts.log,
      metrics: opts.metrics,
      dedup: opts.dedup === undefined
        ? undefined
        : new DedupWindow({
          store: opts.dedup,
          clock: opts.clock ?? systemClock,
          log: opts.log,
          stopping: this.#stop.signal,
          onStoreError: () => { opts.metrics?.dedupStoreErrors.inc() }
        }),
      tracer: opts.tracer,
      attemptSpans: opts.attemptSpans
    })
    this.#delivery = opts.spool === undefined
      ? undefined
      : new SpoolDelivery({
        spool: opts.spool,
        handle: (msg) => this.#pipeline.handle(msg),
        maxInFlight: opts.maxInFlight,
        stopping: this.#stopping.signal,
        clock: opts.clock ?? systemClock,
        log: opts.log
      })
  }

  /**
   * With the spool, a message is acknowledged once it is in it ('ack' when the append resolves); the spool's
   * delivery takes it from there. One too big to be run goes straight to the pipeline, which dead-letters it
   * (PAYLOAD_TOO_LARGE) before its acknowledgement: it would only take room in the spool.
   */
  #spoolOrHandle (msg: InboundMessage): Promise<Outcome> {
    const spool = this.#o.spool
    if (spool === undefined || msg.payload.length > this.#o.maxPayloadBytes) return this.#pipeline.handle(msg)
    return spool.append(msg).then(() => 'ack' as const, () => 'leave' as const)
  }

  get #maxUnacked (): number { return this.#o.maxUnacked ?? Math.max(1024, this.#o.maxInFlight) }

  /** The client id of the reply connection: the adapter's, with `-out`. */
  get publisherClientId (): string { return `${this.#o.clientId}-out` }

  /** Messages being handled by a route right now (tests and metrics). */
  routeInFlight (index: number): number {
    const route = this.#o.routes.routes[index]
    return route === undefined ? 0 : this.#pipeline.routeInFlight(route)
  }

  /** Messages of a route waiting for one of its maxInFlight slots. */
  routeWaiting (index: number): number {
    const route = this.#o.routes.routes[index]
    return route === undefined ? 0 : this.#pipeline.routeWaiting(route)
  }

  /** True while the adapter has stopped reading from the broker (adapter.maxInFlight or maxUnacked reached). */
  get paused (): boolean { return this.#ingress.paused }
  get unacked (): number { return this.#ingress.unacked }
  get protocolVersion (): 4 | 5 { return this.#ingress.protocolVersion }
  get inFlight (): number { return this.#ingress.inFlight }
  get client (): MqttClient | undefined { return this.#ingress.client }
  /** The reply connection's client (tests). */
  get publisherClient (): MqttClient | undefined { return this.#publisher.client }

  /**
   * The reply connection first, so the first message of a persistent session (delivered before SUBACK)
   * can be answered at once; then the ingress, in the protocol the first one agreed.
   */
  async start (): Promise<void> {
    const o = this.#o
    const common = {
      url: o.url,
      keepaliveSeconds: o.keepaliveSeconds,
      connectTimeoutMs: o.connectTimeoutMs,
      sessionExpirySeconds: o.sessionExpirySeconds,
      security: o.security
    }
    await this.#publisher.connect({ ...common, clientId: this.publisherClientId, protocol: o.protocol, receiveMaximum: 16 }, o.log)
    const protocol = this.#publisher.protocolVersion === 5 ? '5' : '3.1.1'
    // What a previous run left in the spool goes out now, replies and dead letters on the reply connection.
    this.#delivery?.start()
    const { client, version } = await connectMqtt({
      ...common,
      clientId: o.clientId,
      protocol,
      receiveMaximum: this.#maxUnacked,
      maximumPacketSize: maximumPacketSize(o.maxPayloadBytes),
      security: o.security
    }, o.log, (c) => { this.#ingress.prepare(c) })
    this.#ingress.attach(client, version)
    const subs = o.routes.subscriptions()
    if (Object.keys(subs).length > 0) {
      const granted = await client.subscribeAsync(subs)
      for (const g of granted) {
        if (g.qos === 128) throw new IotlessError('BROKER_CONNECT_FAILED', `the broker refused the subscription to ${g.topic}`)
      }
    }
    o.log.info({ url: this.source, protocol: version === 5 ? '5' : '3.1.1', subscriptions: Object.keys(subs) }, 'adapter subscribed')
  }

  /** Resolves when nothing is in flight and no message arrived for quietMs (or after timeoutMs). */
  async waitQuiet (quietMs: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const quietFor = Date.now() - this.#ingress.lastMessageAt
      if (this.#ingress.inFlight === 0 && (this.#delivery?.inFlight ?? 0) === 0 && quietFor >= quietMs) return true
      if (Date.now() >= deadline) return false
      await new Promise((resolve) => setTimeout(resolve, Math.max(5, Math.min(quietMs - quietFor, 20))))
    }
  }

  /** Resolves when nothing is in flight, or false after timeoutMs. */
  async whenIdle (timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs
    const ingress = await this.#ingress.whenIdle(timeoutMs)
    const delivery = await (this.#delivery?.whenIdle(Math.max(0, deadline - Date.now())) ?? Promise.resolve(true))
    return ingress && delivery
  }

  /** Messages in the spool, not yet delivered (0 without a spool). */
  get spooled (): number { return this.#o.spool?.messages ?? 0 }

  /**
   * Graceful stop: take no new messages (they stay unacknowledged, so the broker keeps them for the next
   * session), let in-flight ones finish and be acknowledged, then disconnect.
   */
  async stop (graceMs: number): Promise<void> {
    this.#ingress.stopAccepting()
    this.#stopping.abort()
    // Appends waiting for room are refused: their messages stay with the broker. What is in the spool stays there.
    this.#o.spool?.stopAccepting()
    this.#pipeline.flushBatches()
    const idle = await this.whenIdle(graceMs)
    if (!idle) {
      this.#o.log.error({ code: 'SHUTDOWN_TIMEOUT', inFlight: this.#ingress.inFlight, graceMs }, 'in-flight messages did not finish in time; they stay unacknowledged')
      this.#stop.abort(new IotlessError('SHUTDOWN_TIMEOUT', 'adapter stopped'))
    }
    await this.#ingress.end()
    await this.#publisher.end()
  }
}

/**
 * The MQTT 5 Maximum Packet Size the ingress advertises: the payload limit plus room for the rest of a
 * PUBLISH (fixed header, topic of up to 65535 bytes, packet id, properties). A message within the payload
 * limit always fits; one much bigger is dropped by the broker before it is sent [MQTT-3.1.2-25]; one in
 * between arrives and is dead-lettered PAYLOAD_TOO_LARGE, with its size and not its bytes.
 */
export function maximumPacketSize (maxPayloadBytes: number): number {
  return Math.min(268_435_460, maxPayloadBytes + PACKET_HEADROOM_BYTES)
}

/** 64 KiB for the topic and properties. */
export const PACKET_HEADROOM_BYTES = 65_536
