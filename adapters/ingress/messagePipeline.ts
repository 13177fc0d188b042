import type { IClientPublishOptions, IPublishPacket } from 'mqtt'
import { randomUUID } from 'node:crypto'
import { Breaker } from '../../core/breaker.js'
import type { Clock } from '../../core/clock.js'
import { toBatchBody } from '../../core/cloudEventHttp.js'
import type { ErrorCode } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Metrics } from '../../core/metrics.js'
import type { AttemptSpans } from '../../core/tracing/attemptSpans.js'
import type { MessageSpan, MessageTracer, StageSpan } from '../../core/tracing/messageTracer.js'
import type { DispatchResult, OutgoingEvent, ReplyPayload, Target } from '../target.js'
import { batchAttributes, splitBatchReply } from './batchReply.js'
import { Batcher } from './batcher.js'
import { sniffContentType } from './buildEvent.js'
import { deadLetterEvent } from './deadLetter.js'
import { dedupKey } from './dedupKey.js'
import type { DedupWindow } from './dedupWindow.js'
import { derivedId } from './derivedId.js'
import { eventFromMessage } from './eventFromMessage.js'
import { incomingTraceparent } from './incomingTraceparent.js'
import { ResponseTopicPolicy } from './responseTopicPolicy.js'
import { RetryingTarget, type RetriedResult } from './retryingTarget.js'
import type { Route, RouteMatch, RouteTable } from './routeTable.js'
import { stableEventId } from './stableEventId.js'
import { renderTopicTemplate } from './topicPattern.js'

/** One MQTT PUBLISH as the pipeline sees it (mqtt.js's packet, read-only). */
export interface InboundMessage {
  readonly topic: string
  readonly payload: Buffer
  readonly qos: 0 | 1 | 2
  readonly messageId: number | undefined
  readonly properties: IPublishPacket['properties'] | undefined
  /** DUP flag: the broker is delivering it again [MQTT-3.3.1-1]. */
  readonly dup?: boolean | undefined
  /**
   * Called once every route has dispatched it and only the dedup record remains: the ingress gives its
   * in-flight slot to the next message (it stays unacknowledged, bounded by maxUnacked, until recorded).
   */
  readonly dispatched?: (() => void) | undefined
  /** When the adapter received it (epoch ms), for a message delivered later from the spool; none: now. */
  readonly receivedAt?: number | undefined
}

/** One route's share of a message: its outcome, and the dedup key to record before it is acknowledged. */
interface RouteOutcome { outcome: Outcome; record?: string | undefined }

/** How the handling of a message ended: acknowledge it, or leave it to the broker to send again. */
export type Outcome = 'ack' | 'leave'

/** Where replies and dead letters go out. Resolves once the broker has the message (PUBACK for QoS 1). */
export interface OutboundPublisher {
  readonly protocolVersion: 4 | 5
  publish(topic: string, payload: Buffer, opts: IClientPublishOptions): Promise<void>
}

export interface MessagePipelineOptions {
  routes: RouteTable
  targets: ReadonlyMap<string, Target>
  /** The CloudEvents `source` of wrapped messages: broker URL and client id. */
  source: string
  maxPayloadBytes: number
  maxAttempts: number
  retryBaseMs: number
  /** Dead-letter topic template for routes that set none; '' : none. */
  deadLetterTopic: string
  publisher: OutboundPublisher
  /** Aborted when the grace period is over: dispatches in flight are cancelled. */
  stop: AbortSignal
  /** Aborted when stopping begins: retries stop waiting and leave their message to the broker. */
  stopping: AbortSignal
  clock: Clock
  random?: (() => number) | undefined
  log: Logger
  metrics?: Metrics | undefined
  /** The dedup window (adapter.dedup), when on. */
  dedup?: DedupWindow | undefined
  /** Records each message's stages (dashboard, OpenTelemetry); none: no tracing work at all. */
  tracer?: MessageTracer | undefined
  /** Where a multi-tier route's placement finds the span of the attempt it places (with a tracer). */
  attemptSpans?: AttemptSpans | undefined
}

interface BatchItem { event: OutgoingEvent; match: RouteMatch; msg: InboundMessage; receivedAt: number; trace: MessageSpan | undefined }

interface RouteState {
  /** route.maxInFlight slots; a message waits its turn here (FIFO), the socket is still read. */
  gate: Breaker
  retry: RetryingTarget
  batcher?: Batcher<BatchItem, Outcome[]>
  /** A multi-tier route: its placement names the tier of each attempt (by event id, through attemptSpans). */
  placed: boolean
  /**
   * The attributes every dispatch attempt span of the route has, made once and frozen: the compact tracer
   * keeps the object rather than copying it, and writes its OTLP bytes once (core/tracing/otlpProtobuf.ts).
   */
  dispatchAttributes: Readonly<Record<string, string>>
}

/**
 * The per-message pipeline, one stage after the other:
 *   route -> admit (topic prefix, size, response topic) -> event (CloudEvent, accept) -> wait for a slot of the
 *   route (maxInFlight) -> dispatch (retried, alone or batched) -> settle (reply, or dead letter) -> outcome.
 * A full route makes its own messages wait, never another route's: the slots are per route, and nothing a
 * route waits on comes over the ingress connection (replies and dead letters leave on their own).
 * It knows nothing of mqtt.js: a message comes in, an outcome goes out, and replies and dead letters leave
 * through the OutboundPublisher. Each stage is a method, so a stage can be added between two (dedup before
 * dispatch, a span around each).
 */
export class MessagePipeline {
  readonly #o: MessagePipelineOptions
  readonly #routeState = new Map<Route, RouteState>()
  readonly #responsePolicy: ResponseTopicPolicy

  constructor (opts: MessagePipelineOptions) {
    this.#o = opts
    this.#responsePolicy = new ResponseTopicPolicy(opts.routes, opts.deadLetterTopic)
    const random = opts.random ?? Math.random
    for (const route of opts.routes.routes) {
      const target = opts.targets.get(route.target) as Target
      // A single-target route runs on its target; a multi-tier one's placement names the tier it chose.
      const placed = target?.kind === 'placement'
      const dispatchAttributes: Record<string, string> = { 'iotless.route': route.label, 'iotless.target': route.target, 'faas.invoked_name': route.functionName }
      if (!placed) dispatchAttributes['iotless.tier'] = route.target
      const state: RouteState = {
        placed,
        dispatchAttributes: Object.freeze(dispatchAttributes),
        gate: new Breaker({ capacity: route.maxInFlight, queueDepth: Number.MAX_SAFE_INTEGER }),
        retry: new RetryingTarget(target, {
          maxAttempts: route.maxAttempts ?? opts.maxAttempts,
          baseMs: opts.retryBaseMs,
          clock: opts.clock,
          random,
          stopRetrying: opts.stopping,
          onRetry: () => { opts.metrics?.retries.inc({ route: route.label }) }
        })
      }
      if (route.batch !== undefined) {
        state.batcher = new Batcher<BatchItem, Outcome[]>({
          maxItems: route.batch.maxMessages,
          maxWaitMs: route.batch.maxWaitMs,
          clock: opts.clock,
          flush: (items) => this.#dispatchBatch(route, state, items)
        })
      }
      this.#routeState.set(route, state)
    }
  }

  /** Messages of a route being dispatched right now (at most its maxInFlight). */
  routeInFlight (route: Route): number { return this.#routeState.get(route)?.gate.inFlight ?? 0 }

  /** Messages of a route waiting for one of its slots. */
  routeWaiting (route: Route): number { return this.#routeState.get(route)?.gate.waiting ?? 0 }

  /** Sends every partial batch now (stopping). */
  flushBatches (): void {
    for (const state of this.#routeState.values()) state.batcher?.flushNow()
  }

  /** One message, start to end: every matching route handles it; it is acknowledged when all of them say so. */
  async handle (msg: InboundMessage): Promise<Outcome> {
    const { log, metrics } = this.#o
    const trace = this.#o.tracer?.begin({ topic: msg.topic, payload: msg.payload, qos: msg.qos, traceparent: incomingTraceparent(msg) })
    const matching = trace?.stage('route match')
    const matches = this.#o.routes.match(msg.topic)
    if (matching !== undefined && matching.recording !== false) matching.set('iotless.routes', matches.length === 1 ? (matches[0] as RouteMatch).route.label : matches.map((m) => m.route.label).join(','))
    matching?.end()
    if (matches.length === 0) {
      metrics?.messagesUnrouted.inc()
      log.debug({ code: 'NO_ROUTE', topic: msg.topic }, 'message matched no route')
      trace?.end('unrouted')
      return 'ack'
    }
    // MQTT 5 expiry counts from arrival: a message from the spool (adapter.spool) carries when it arrived.
    const receivedAt = msg.receivedAt ?? this.#o.clock.now()
    const results = await Promise.all(matches.map((m) => this.#handleRoute(m, msg, receivedAt, trace)))
    const outcome = results.some((r) => r.outcome === 'leave') ? 'leave' : 'ack'
    msg.dispatched?.()
    const dedup = this.#o.dedup
    const keys = results.flatMap((r) => r.record === undefined ? [] : [r.record])
    if (dedup !== undefined && keys.length > 0) {
      // The routes that succeeded are recorded even when another left it: their redelivery then skips them.
      try {
        await Promise.all(keys.map((k) => dedup.record(k)))
      } catch {
        trace?.end('leave')
        return 'leave' // stopping while the store was down
      }
    }
    trace?.end(outcome)
    return outcome
  }

  /** One route's share of a message. */
  async #handleRoute (match: RouteMatch, msg: InboundMessage, receivedAt: number, trace: MessageSpan | undefined): Promise<RouteOutcome> {
    const { route } = match
    this.#o.metrics?.messagesReceived.inc({ route: route.label })
    const state = this.#routeState.get(route) as RouteState
    const refused = this.#admit(match, msg)
    if (refused !== undefined) return { outcome: await this.#deadLetter(match, msg, undefined, refused.code, refused.reason, 0, undefined, trace) }

    const built = this.#toEvent(match, msg)
    if (!built.ok) return { outcome: await this.#deadLetter(match, msg, built.event, built.code, built.reason, 0, undefined, trace) }
    const event = built.event
    trace?.set('cloudevents.event_id', event.attributes.id)
    const dedup = this.#o.dedup
    const key = dedup === undefined ? undefined : dedupKey(route.label, msg, built.mode, event)
    if (dedup !== undefined && key?.lookup === true) {
      let seen: boolean
      try {
        seen = await dedup.seen(key.key)
      } catch {
        return { outcome: 'leave' } // stopping while the store was down
      }
      if (seen) {
        this.#o.metrics?.dedupSkipped.inc({ route: route.label })
        this.#o.log.debug({ route: route.label, id: event.attributes.id }, 'redelivered message already handled: acknowledged without dispatch')
        // Recorded again, so a second loss of its PUBACK is caught too.
        return { outcome: 'ack', record: key.key }
      }
    }

    try {
      await state.gate.acquire(this.#o.stop)
    } catch {
      return { outcome: 'leave' } // the grace period ended while it waited
    }
    let outcome: Outcome
    try {
      const expired = expiredBy(msg, receivedAt, this.#o.clock.now())
      if (expired !== undefined) {
        outcome = await this.#expired(match, msg, event, expired, trace)
      } else if (state.batcher !== undefined) {
        const outcomes = await state.batcher.add({ event, match, msg, receivedAt, trace })
        outcome = outcomes.includes('leave') ? 'leave' : 'ack'
      } else {
        // The attempt's span, recorded, until it ends (as the retry sees the attempt's result).
        let open: StageSpan | undefined
        const retried = await state.retry.run((target, attempt) => {
          open = undefined
          const late = expiredBy(msg, receivedAt, this.#o.clock.now())
          if (late !== undefined) return Promise.resolve(expiredResult(msg, late))
          const span = this.#attemptSpan(trace, state, event, attempt, undefined)
          // The function's span joins the trace as a child of this attempt (OpenTelemetry on; else unchanged).
          // Set on the event before it is copied for the attempt, so the copy has it from the start.
          const tp = span?.traceparent
          if (tp !== undefined) event.attributes.traceparent = tp
          if (span !== undefined && span.recording !== false) open = span
          const sent = withAttempt(event, attempt)
          return target.dispatch(route.functionName, sent, { signal: this.#o.stop })
        }, this.#o.stop, trace === undefined || trace.recording === false
          ? undefined
          : (r, err) => { if (open !== undefined) { this.#endAttempt(open, event, r, err); open = undefined } })
        outcome = await this.#settle(match, msg, event, retried, trace)
      }
    } finally {
      state.gate.release()
    }
    return { outcome, record: outcome === 'ack' ? key?.key : undefined }
  }

  /** A message whose MQTT 5 Message Expiry Interval ran out in the adapter: not invoked, dead-lettered MESSAGE_EXPIRED. */
  async #expired (match: RouteMatch, msg: InboundMessage, event: OutgoingEvent, lateMs: number, trace: MessageSpan | undefined): Promise<Outcome> {
    const r = expiredResult(msg, lateMs)
    return await this.#deadLetter(match, msg, event, r.code, r.message, 0, undefined, trace)
  }

  /** The span of one dispatch attempt (retry number, tier), open in attemptSpans while it runs. */
  #attemptSpan (trace: MessageSpan | undefined, state: RouteState, event: OutgoingEvent, attempt: number, batchSize: number | undefined): StageSpan | undefined {
    if (trace === undefined) return undefined
    // Not recorded (sampled out): only its context is handed on; no attributes, nothing to end.
    if (trace.recording === false) return trace.stage('dispatch')
    const span = trace.stage('dispatch', state.dispatchAttributes)
    span.set('iotless.attempt', attempt)
    if (batchSize !== undefined) span.set('iotless.batch_size', batchSize)
    // Only a placement reports the tiers it tried (by event id): other attempts need no entry.
    if (state.placed) this.#o.attemptSpans?.open(event.attributes.id, span)
    return span
  }

  /** Ends an attempt's span with its result (an error status with the code when rejected), or with what it threw (`r` undefined). */
  #endAttempt (span: StageSpan, event: OutgoingEvent, r: DispatchResult | undefined, err: unknown): void {
    if (r === undefined) span.end((err as Error).message)
    else {
      if (r.status === 'rejected') span.set('iotless.retryable', r.retryable)
      span.end(r.status === 'rejected' ? r.code : undefined)
    }
    const spans = this.#o.attemptSpans
    if (spans !== undefined && spans.size > 0) spans.close(event.attributes.id, span)
  }

  /** Refuses, before any work, what the route must not run. */
  #admit (match: RouteMatch, msg: InboundMessage): { code: ErrorCode; reason: string } | undefined {
    const { route } = match
    const metrics = this.#o.metrics
    if (route.topicPrefix !== undefined && !msg.topic.startsWith(route.topicPrefix)) {
      metrics?.messagesRejected.inc({ reason: 'topic_not_allowed' })
      return { code: 'TOPIC_NOT_ALLOWED', reason: `topic is outside the route's topicPrefix "${route.topicPrefix}"` }
    }
    if (msg.payload.length > this.#o.maxPayloadBytes) {
      metrics?.messagesRejected.inc({ reason: 'payload_too_large' })
      return { code: 'PAYLOAD_TOO_LARGE', reason: `${msg.payload.length} bytes is more than adapter.maxPayloadBytes (${this.#o.maxPayloadBytes})` }
    }
    const responseTopic = msg.properties?.responseTopic
    if (responseTopic !== undefined) {
      const why = this.#responsePolicy.refusal(route, responseTopic)
      if (why !== undefined) {
        metrics?.messagesRejected.inc({ reason: 'response_topic_not_allowed' })
        return { code: 'RESPONSE_TOPIC_NOT_ALLOWED', reason: why }
      }
    }
    return undefined
  }

  /** The CloudEvent the route sends: wrapped (with a stable id for QoS 1/2) or passed through; `accept` checked. */
  #toEvent (match: RouteMatch, msg: InboundMessage): { ok: true; event: OutgoingEvent; mode: 'wrapped' | 'binary' | 'structured' } | { ok: false; event: OutgoingEvent | undefined; code: ErrorCode; reason: string } {
    const { route } = match
    const metrics = this.#o.metrics
    const id = msg.qos > 0 && msg.messageId !== undefined
      ? stableEventId(this.#o.source, msg.topic, msg.messageId, msg.payload)
      : randomUUID()
    const props = msg.properties
    const built = eventFromMessage({ topic: msg.topic, payload: msg.payload, contentType: props?.contentType, userProperties: props?.userProperties }, route.type, this.#o.source, new Date(), id)
    if (!built.ok) {
      metrics?.messagesRejected.inc({ reason: 'cloudevent_invalid' })
      return { ok: false, event: undefined, code: built.code, reason: built.message }
    }
    const event = built.event
    // A wrapped payload without an MQTT 5 content type was sniffed already: its datacontenttype says it.
    const sniffed = built.mode === 'wrapped' && props?.contentType === undefined
    if (route.accept === 'json' && (sniffed ? event.attributes.datacontenttype : sniffContentType(event.data)) !== 'application/json') {
      metrics?.messagesRejected.inc({ reason: 'payload_not_json' })
      return { ok: false, event, code: 'PAYLOAD_NOT_JSON', reason: 'the route accepts JSON only and the payload does not parse as JSON' }
    }
    return { ok: true, event, mode: built.mode }
  }

  /** After dispatch: leave it (stopping), dead-letter it (rejected), or publish the reply and acknowledge it. */
  async #settle (match: RouteMatch, msg: InboundMessage, event: OutgoingEvent, retried: RetriedResult, trace: MessageSpan | undefined): Promise<Outcome> {
    const { result, attempts } = retried
    if (this.#leftByStop(retried)) return 'leave'
    if (result.status === 'rejected') return await this.#deadLetter(match, msg, event, result.code, result.message, attempts, result.httpStatus, trace)
    if (result.reply !== undefined) await this.#publishReply(match, msg, result.reply, event, trace)
    return 'ack'
  }

  /** One invocation for a whole batch; every message's outcome follows the batch's. */
  async #dispatchBatch (route: Route, state: RouteState, items: BatchItem[]): Promise<Outcome[]> {
    this.#o.metrics?.batchSize.observe({ route: route.label }, items.length)
    const signal = this.#o.stop
    // MQTT 5 Message Expiry is checked before every attempt, as for a single message: one that ran out while
    // the batch waited or was retried leaves it (dead-lettered MESSAGE_EXPIRED); the rest go on.
    const expired = new Map<BatchItem, number>()
    let live = items
    /** The attempt's spans (of `spanned`'s messages), open until it ends. */
    let spans: Array<StageSpan | undefined> = []
    let spanned: BatchItem[] = []
    const retried = await state.retry.run((target, attempt) => {
      spans = []
      const now = this.#o.clock.now()
      live = live.filter((i) => {
        const late = expiredBy(i.msg, i.receivedAt, now)
        if (late !== undefined) expired.set(i, late)
        return late === undefined
      })
      const batch = live
      if (batch.length === 0) return Promise.resolve(expiredResult(items[0]?.msg as InboundMessage, expired.get(items[0] as BatchItem) ?? 0))
      // Each message of the batch gets a span for the attempt (its trace's); the first one's is the placement's.
      spans = batch.map((i) => {
        const span = this.#attemptSpan(i.trace, state, i.event, attempt, batch.length)
        const tp = span?.traceparent
        if (tp !== undefined) i.event.attributes.traceparent = tp
        return span
      })
      const events = batch.map((i) => withAttempt(i.event, attempt))
      const sending = target.dispatchBatch !== undefined
        ? target.dispatchBatch(route.functionName, events, { signal })
        : target.dispatch(route.functionName, { attributes: withKey(batchAttributes(events, this.#o.source), 'iotlessattempt', String(attempt)), data: toBatchBody(events) }, { signal })
      spanned = batch
      return sending
    }, signal, (r, err) => {
      // The attempt's spans end as the retry sees its result (recorded ones only).
      spans.forEach((s, k) => { if (s !== undefined && s.recording !== false) this.#endAttempt(s, (spanned[k] as BatchItem).event, r, err) })
      spans = []
    })
    const { result, attempts } = retried
    if (this.#leftByStop(retried)) return items.map(() => 'leave')
    const outcomes = new Map<BatchItem, Promise<Outcome>>()
    for (const [item, late] of expired) outcomes.set(item, this.#expired(item.match, item.msg, item.event, late, item.trace))
    if (live.length > 0 && result.status === 'rejected') {
      for (const i of live) outcomes.set(i, this.#deadLetter(i.match, i.msg, i.event, result.code, result.message, attempts, result.httpStatus, i.trace))
    } else if (live.length > 0 && result.status !== 'rejected') {
      const replies = result.reply === undefined ? undefined : splitBatchReply(result.reply, live.length)
      live.forEach((item, k) => {
        const reply = replies?.[k]
        outcomes.set(item, reply === undefined ? Promise.resolve('ack') : this.#publishReply(item.match, item.msg, reply, item.event, item.trace).then(() => 'ack' as const))
      })
    }
    return await Promise.all(items.map((i) => outcomes.get(i) ?? Promise.resolve<Outcome>('ack')))
  }

  /**
   * A failure that stopping caused is not the message's fault: it is left unacknowledged, so the broker
   * delivers it again to the next session, instead of being dead-lettered (POOL_CLOSED after a restart).
   */
  #leftByStop (retried: RetriedResult): boolean {
    if (retried.interrupted) return true
    const r = retried.result
    if (r.status !== 'rejected') return false
    return this.#o.stop.aborted || (this.#o.stopping.aborted && (r.code === 'POOL_CLOSED' || r.code === 'TARGET_ABORTED' || r.code === 'SHUTDOWN_TIMEOUT'))
  }

  async #publishReply (match: RouteMatch, msg: InboundMessage, reply: ReplyPayload, event: OutgoingEvent, trace?: MessageSpan): Promise<void> {
    const { log, metrics, publisher } = this.#o
    const { route, params } = match
    const props = msg.properties
    const responseTopic = props?.responseTopic
    const replyTopic = responseTopic ?? (route.replyTemplate === undefined ? undefined : renderTopicTemplate(route.replyTemplate, params))
    if (replyTopic === undefined) return
    const publishOpts: IClientPublishOptions = { qos: route.qos }
    if (publisher.protocolVersion === 5) {
      publishOpts.properties = { contentType: reply.contentType }
      if (responseTopic !== undefined && props?.correlationData !== undefined) publishOpts.properties.correlationData = props.correlationData
      // A reply that is itself a CloudEvent (binary-mode HTTP) goes out in MQTT 5 binary mode: its attributes
      // as User Properties, datacontenttype as the Content Type.
      const userProperties: Record<string, string> = {}
      for (const [k, v] of Object.entries(reply.attributes ?? {})) if (v !== undefined && k !== 'datacontenttype') userProperties[k] = v
      // A reply that is a CloudEvent gets an id derived from its input's, so a re-run's reply has the same id;
      // every reply names its input (a subscriber can drop a repeated reply by it).
      if (reply.attributes !== undefined) userProperties.id = derivedId('reply', event.attributes.source, event.attributes.id)
      userProperties.iotlessinputid = event.attributes.id
      const traceparent = reply.traceparent ?? event.attributes.traceparent
      if (traceparent !== undefined) userProperties.traceparent = traceparent
      if (Object.keys(userProperties).length > 0) publishOpts.properties.userProperties = userProperties
    }
    const publishing = trace?.stage('reply publish', { 'messaging.destination.name': replyTopic, 'iotless.route': route.label })
    try {
      await publisher.publish(replyTopic, reply.data, publishOpts)
      metrics?.repliesPublished.inc({ route: route.label })
      publishing?.end()
    } catch (err) {
      publishing?.end((err as Error).message)
      log.error({ function: route.functionName, topic: replyTopic, err: (err as Error).message }, 'reply publish failed')
    }
  }

  /**
   * Publishes the message, with why it failed, to the route's dead-letter topic (QoS 1), and only then lets it
   * be acknowledged. With no dead-letter topic the message is logged, counted and acknowledged (dropped).
   */
  async #deadLetter (match: RouteMatch, msg: InboundMessage, event: OutgoingEvent | undefined, code: ErrorCode, reason: string, attempts: number, httpStatus?: number, trace?: MessageSpan): Promise<Outcome> {
    const { log, metrics, publisher } = this.#o
    const { route, params } = match
    metrics?.deadLetters.inc({ route: route.label, code })
    if (code === 'MESSAGE_EXPIRED') metrics?.messagesExpired.inc({ route: route.label })
    const template = route.deadLetterTemplate ?? this.#o.deadLetterTopic
    const logFields = { code, route: route.label, function: route.functionName, topic: msg.topic, attempts, httpStatus, err: reason }
    const dead = trace?.stage('dead letter', { 'iotless.route': route.label, 'error.type': code, 'iotless.reason': reason })
    if (template === '') {
      log.error(logFields, 'message failed and no dead-letter topic is set: dropped')
      dead?.end(code)
      return 'ack'
    }
    const topic = renderTopicTemplate(template, params)
    dead?.set('messaging.destination.name', topic)
    const body = deadLetterEvent({
      attributes: event?.attributes,
      topic: msg.topic,
      // An oversized payload is described (its size), not copied: a copy would be as big again, and may be
      // more than the broker takes, which would drop the connection and bring the message back, for ever.
      payload: code === 'PAYLOAD_TOO_LARGE' ? undefined : msg.payload,
      payloadBytes: msg.payload.length,
      route: route.label,
      function: route.functionName,
      code,
      reason,
      attempts,
      httpStatus,
      destination: `${route.target}:${route.functionName}`,
      source: this.#o.source,
      id: deadLetterId(this.#o.source, msg, event, code),
      now: new Date()
    })
    const opts: IClientPublishOptions = { qos: 1 }
    if (publisher.protocolVersion === 5) opts.properties = { contentType: 'application/cloudevents+json' }
    try {
      await publisher.publish(topic, body, opts)
      log.warn({ ...logFields, deadLetterTopic: topic }, 'message sent to the dead-letter topic')
      dead?.end(code)
      return 'ack'
    } catch (err) {
      dead?.end(`${code}; dead letter not published: ${(err as Error).message}`)
      log.error({ ...logFields, deadLetterTopic: topic, publishErr: (err as Error).message }, 'dead letter could not be published: the message stays unacknowledged')
      return 'leave'
    }
  }
}

/** Ms by which a message's MQTT 5 Message Expiry Interval has run out at `nowMs`, counted from its arrival; undefined while it has not. */
export function expiredBy (msg: InboundMessage, receivedAt: number, nowMs: number): number | undefined {
  const seconds = msg.properties?.messageExpiryInterval
  if (seconds === undefined) return undefined
  const late = nowMs - (receivedAt + seconds * 1000)
  return late >= 0 ? late : undefined
}

function expiredResult (msg: InboundMessage, lateMs: number): { status: 'rejected'; retryable: false; code: 'MESSAGE_EXPIRED'; message: string } {
  const seconds = msg.properties?.messageExpiryInterval ?? 0
  return { status: 'rejected', retryable: false, code: 'MESSAGE_EXPIRED', message: `its MQTT 5 Message Expiry Interval (${seconds} s left when it arrived) ran out ${lateMs} ms before it could be invoked` }
}

/** The event as one attempt sends it: the `iotlessattempt` extension (1, 2, ...) beside the same id. */
export function withAttempt (event: OutgoingEvent, attempt: number): OutgoingEvent {
  return { attributes: withKey(event.attributes, 'iotlessattempt', String(attempt)), data: event.data }
}

/**
 * A copy of `attributes` with `key` set (a key it has keeps its place). Object.assign, not `{ ...a, [key]: v }`:
 * on Node 20's V8 a spread followed by a key, or a key added later to a spread copy, takes a slow path
 * (~1 µs each on the bench box, against ~0.1 µs for this), once per dispatch attempt.
 */
function withKey<T extends Record<string, string | undefined>> (attributes: T, key: string, value: string): T {
  const copy: Record<string, string | undefined> = Object.assign({}, attributes)
  copy[key] = value
  return copy as T
}

/** A dead letter's id: derived from its event's (or, with no event, its message's stable id), so a re-run's dead letter has the same id. */
function deadLetterId (source: string, msg: InboundMessage, event: OutgoingEvent | undefined, code: string): string {
  if (event !== undefined) return derivedId('deadletter', event.attributes.source, event.attributes.id)
  if (msg.qos > 0 && msg.messageId !== undefined) return derivedId('deadletter', stableEventId(source, msg.topic, msg.messageId, msg.payload), code)
  return randomUUID()
}
