import http from 'node:http'
import type net from 'node:net'
import { listen } from '../core/listen.js'
import { Breaker } from '../core/breaker.js'
import { systemClock, type Clock } from '../core/clock.js'
import { Drainer } from './drainer.js'
import { H2Front } from './h2/h2Server.js'
import { RelayFront } from './h2/relay/relayFront.js'
import { sniffAccept } from './h2/sniffAccept.js'
import { createTlsServing, tlsFilesPresent, type TlsServing } from './h2/tlsServer.js'
import type { ProxyEnv } from './env.js'
import { ProxyCounters, type ProxyContext } from './proxyContext.js'
import { multiAccept, type MultiAcceptState } from './multiAccept.js'
import { loadAcceptPending, type AcceptPendingLoad } from './native/loadAcceptPending.js'
import { QueueServer, type AcceptHandler } from './queueServer.js'
import { ReadinessProber } from './readinessProber.js'
import { StatsReporter } from './statsReporter.js'
import { UpstreamPool } from './upstreamPool.js'
import { createUserMetrics } from './userMetrics.js'
import type { RequestTracer } from '../core/tracing/requestTracer.js'
import type { Logger } from '../core/log.js'

export interface QueueProxy {
  /** `tls` is null when no certificate is mounted (Knative runs no TLS server then). */
  ports: { serving: number; admin: number; stats: number; userMetrics: number; tls: number | null; profiling: number | null }
  ctx: ProxyContext
  reporter: StatsReporter
  drainer: Drainer
  queue: QueueServer
  /**
   * HTTP/2 with prior knowledge on the serving port: the relay engine (h2/relay/) or node:http2 (H2Front),
   * by IOTLESS_PROXY_H2_ENGINE.
   */
  h2: H2Engine
  /** node:http2: the h2c upgrade and TLS h2 always, prior knowledge too when IOTLESS_PROXY_H2_ENGINE=node (then h2 === h2Node). */
  h2Node: H2Front
  /** The SIGTERM sequence: drain (probes fail, quiet period), close servers, bounded grace for upgrades. */
  shutdown (): Promise<void>
  /** Stops everything at once, without draining (tests, start-up failures). */
  close (): Promise<void>
  /** How many times the TLS certificate was reloaded after a rotation (0 without TLS). */
  reloads (): number
  /** Connections the native helper accepted on the TLS port beyond libuv's one per turn; null when not in use. */
  tlsBatchAccepted (): number | null
}

/** What both HTTP/2 engines offer start-up, shutdown and tests. */
export interface H2Engine {
  readonly sessions: { readonly size: number }
  readonly exchanges: { readonly size: number }
  /** Streams reset by their client before they were started. */
  readonly resetBeforeStart: number
  /** Connections closed because a PING went unanswered. */
  readonly deadSessions: number
  readonly busy: boolean
  shutdown (): void
  drained (deadlineMs: number): Promise<void>
  destroyAll (): void
}

/** One listener of the sidecar: what it is, where it goes, and the variable that moves it (for PORT_IN_USE). */
interface Listener { name: keyof QueueProxy['ports']; server: net.Server; port: number; envVar: string }

/**
 * Binds every listener through core/listen.ts, in order. The first that fails stops start-up: those already
 * bound are closed and the error (PORT_IN_USE or LISTEN_FAILED, naming the port's variable) is thrown, so a
 * proxy never runs without its admin or stats server.
 */
async function listenAll (listeners: readonly Listener[], host: string, queue: QueueServer): Promise<QueueProxy['ports']> {
  const ports: QueueProxy['ports'] = { serving: 0, admin: 0, stats: 0, userMetrics: 0, tls: null, profiling: null }
  const bound: net.Server[] = []
  try {
    for (const l of listeners) {
      const hint = { setting: l.envVar, envVar: l.envVar, inConfigFile: false }
      ports[l.name] = l.server === queue.server ? await queue.listen(l.port, host, hint) : await listen(l.server, l.port, host, hint)
      bound.push(l.server)
    }
  } catch (err) {
    for (const s of bound) s.close()
    throw err
  }
  return ports
}

/**
 * Builds and starts the whole sidecar from its config, in the order of knative/serving
 * pkg/queue/sharedmain/main.go: stats reporter, breaker (only when CONTAINER_CONCURRENCY >= 1, sized
 * CC in flight plus 10 x CC queued, pkg/queue/sharedmain/handlers.go buildBreaker), the main server,
 * then the admin (/wait-for-drain), autoscaler-stats and user-metrics servers.
 */
export interface StartOptions {
  clock?: Clock
  log?: (msg: string, fields?: Record<string, unknown>) => void
  /** Who serves each connection accepted on QUEUE_SERVING_PORT; default h2/sniffAccept.ts (HTTP/1.1 or HTTP/2 by the first bytes). */
  onAccept?: AcceptHandler
}

/**
 * The request tracer when Knative's observability config turns tracing on; null otherwise, and then neither
 * core/tracing/otelTracer.js nor the OpenTelemetry SDK is loaded.
 */
async function startTracing (env: ProxyEnv, log: (msg: string, fields?: Record<string, unknown>) => void): Promise<RequestTracer | null> {
  for (const note of env.observability.notes) log(note)
  const settings = env.observability.tracing
  if (settings === null) return null
  const { startRequestTracing } = await import('../core/tracing/otelTracer.js')
  // core/tracing logs through a pino-style logger; its one warning per cause goes to the proxy's log.
  const shim = { warn: (fields: Record<string, unknown>, msg: string) => log(msg, fields) } as unknown as Logger
  const tracer = await startRequestTracing(settings, shim)
  log('tracing on', { endpoint: settings.endpoint, sampleRatio: settings.sampleRatio, serviceName: settings.serviceName })
  return tracer
}

export async function startQueueProxy (env: ProxyEnv, opts: StartOptions = {}): Promise<QueueProxy> {
  const clock = opts.clock ?? systemClock
  const log = opts.log ?? (() => {})
  const tracer = await startTracing(env, log)
  const reporter = new StatsReporter({ clock, podName: env.servingPod })
  const cc = env.containerConcurrency
  const breaker = cc >= 1 ? new Breaker({ capacity: cc, queueDepth: 10 * cc }) : null
  const pool = new UpstreamPool({ port: env.userPort, host: env.userHost, maxIdle: cc >= 1 ? cc : 1000, idleTimeoutMs: env.upstreamIdleMs })
  const drainer = new Drainer(clock, env.drainQuietPeriodMs)
  const counters = new ProxyCounters()
  const metrics = createUserMetrics({
    counters,
    stats: reporter.stats,
    breaker,
    labels: { destination_namespace: env.servingNamespace, destination_configuration: env.servingConfiguration, destination_revision: env.servingRevision, destination_pod: env.servingPod },
    // Read at scrape time, once both servers exist.
    batchAccepted: () => (queue.batchAccepted ?? 0) + (tlsMulti?.accepted ?? 0)
  })
  const ctx: ProxyContext = {
    clock,
    stats: reporter.stats,
    breaker,
    pool,
    drainer,
    prober: new ReadinessProber(env.readinessProbe, { http2AutoDetect: env.enableHttp2AutoDetection }),
    totalTimeoutMs: env.revisionTimeoutMs,
    responseStartTimeoutMs: env.responseStartTimeoutMs,
    idleTimeoutMs: env.idleTimeoutMs,
    maxHeaderBytes: env.maxHeaderBytes,
    headerTimeoutMs: env.headerTimeoutMs,
    keepAliveIdleMs: env.keepAliveIdleMs,
    counters,
    observeDurationMs: metrics.observeDurationMs,
    tracer,
    closing: false
  }
  const h2Options = { maxHeaderBytes: env.maxHeaderBytes, userHost: env.userHost, userPort: env.userPort, upstreamIdleMs: env.upstreamIdleMs, pingMs: env.h2PingMs }
  const h2Node = new H2Front(ctx, h2Options)
  const relay = env.h2Engine === 'relay' ? new RelayFront(ctx, h2Options) : null
  const h2: H2Engine = relay ?? h2Node
  // Both engines are shut down and destroyed together (the same one twice when there is only node:http2).
  const engines: H2Engine[] = relay === null ? [h2Node] : [relay, h2Node]
  const h2all = {
    shutdown: () => { for (const e of engines) e.shutdown() },
    drained: async (deadline: number) => { for (const e of engines) await e.drained(deadline) },
    destroyAll: () => { for (const e of engines) e.destroyAll() }
  }
  // The first bytes of each serving-port connection choose HTTP/1.1 or HTTP/2 (h2/sniffAccept.ts).
  const acceptLoad: AcceptPendingLoad = env.multiAccept ? loadAcceptPending() : { ok: false, reason: 'IOTLESS_PROXY_MULTI_ACCEPT=false' }
  const acceptPending = acceptLoad.ok ? acceptLoad.acceptPending : null
  if (acceptLoad.ok) log('accepting every queued connection per event-loop turn', { helper: acceptLoad.file })
  else log('accepting one connection per event-loop turn, as Node does', { reason: acceptLoad.reason })
  const queue = new QueueServer(ctx, { onAccept: opts.onAccept ?? sniffAccept(h2Node, relay), acceptPending })
  const countAccept = (): void => { counters.connectionsAccepted++ }
  queue.server.on('connection', countAccept)
  // serving pkg/queue/sharedmain/main.go: the TLS server runs when both certificate files are mounted.
  // The certificate is loaded here, so a bad one stops start-up before anything listens.
  let tlsServing: TlsServing | null = null
  try {
    if (tlsFilesPresent(env.tls)) tlsServing = createTlsServing({ settings: env.tls, queue, h2: h2Node, handshakeTimeoutMs: env.headerTimeoutMs, log })
    tlsServing?.server.on('connection', countAccept)
  } catch (err) {
    h2all.destroyAll()
    await tracer?.shutdown()
    throw err
  }
  reporter.start()

  let shuttingDown = false
  // serving pkg/queue/sharedmain/main.go adminHandler.
  const admin = http.createServer((req, res) => {
    if (req.url !== '/wait-for-drain') { res.writeHead(404).end(); return }
    log('drain requested through /wait-for-drain')
    // A /wait-for-drain with no SIGTERM behind it is a liveness restart of the user container: un-drain.
    const t = setTimeout(() => { if (!shuttingDown) drainer.reset() }, env.drainResetMs)
    t.unref()
    drainer.drain().then(() => { res.writeHead(200).end() }, () => { res.writeHead(500).end() })
  })
  // serving pkg/queue/sharedmain/main.go: the autoscaler scrapes /metrics, protobuf only.
  const stats = http.createServer((req, res) => {
    const path = req.url === undefined ? '' : req.url.split('?')[0]
    if (path !== '/metrics') { res.writeHead(404).end(); return }
    const body = reporter.body
    res.writeHead(200, { 'Content-Type': 'application/protobuf', 'Content-Length': body.length }).end(body)
  })
  const userMetrics = http.createServer((req, res) => {
    metrics.metrics().then((text) => {
      res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text)
    }, () => res.writeHead(500).end())
  })

  const listeners: Listener[] = [
    { name: 'serving', server: queue.server, port: env.queueServingPort, envVar: 'QUEUE_SERVING_PORT' },
    { name: 'admin', server: admin, port: env.adminPort, envVar: 'IOTLESS_PROXY_ADMIN_PORT' },
    { name: 'stats', server: stats, port: env.statsPort, envVar: 'IOTLESS_PROXY_STATS_PORT' },
    { name: 'userMetrics', server: userMetrics, port: env.userMetricsPort, envVar: 'IOTLESS_PROXY_USER_METRICS_PORT' }
  ]
  if (tlsServing !== null) listeners.push({ name: 'tls', server: tlsServing.server, port: env.queueServingTlsPort, envVar: 'QUEUE_SERVING_TLS_PORT' })
  // knative/pkg profiling: only when profiling is enabled, on PROFILING_PORT (8008).
  let profiling: http.Server | null = null
  if (env.observability.profiling.enabled) {
    const { createProfilingServer } = await import('./profilingServer.js')
    profiling = await createProfilingServer()
    listeners.push({ name: 'profiling', server: profiling, port: env.observability.profiling.port, envVar: 'PROFILING_PORT' })
  }
  const extraServers = [admin, stats, userMetrics, ...(profiling === null ? [] : [profiling])]
  let ports: QueueProxy['ports']
  try {
    ports = await listenAll(listeners, env.bindHost, queue)
  } catch (err) {
    tlsServing?.close()
    await queue.closeTunnels(0)
    h2all.destroyAll()
    reporter.stop()
    await tracer?.shutdown()
    throw err
  }
  let tlsMulti: MultiAcceptState | null = null
  if (tlsServing !== null) {
    if (acceptPending !== null) tlsMulti = multiAccept(tlsServing.server, acceptPending, { pauseOnConnect: false, noDelay: true, allowHalfOpen: true })
    log('serving TLS', { port: ports.tls, certFile: env.tls.certFile })
  }

  let done: Promise<void> | undefined
  const shutdown = (): Promise<void> => {
    if (done !== undefined) return done
    shuttingDown = true
    done = (async () => {
      log('draining', { quietPeriodMs: env.drainQuietPeriodMs })
      await drainer.drain()
      log('closing servers')
      tlsServing?.close()
      // Requests still in flight may take up to the revision timeout; the kubelet's grace period is the same.
      const graceMs = Math.max(env.revisionTimeoutMs, 1000)
      const deadline = Date.now() + graceMs
      const http1 = queue.shutdown(graceMs)
      // GOAWAY on every HTTP/2 session (ctx.closing is set now, so one that arrives later gets it at once).
      h2all.shutdown()
      await http1
      await h2all.drained(deadline)
      for (const s of extraServers) { s.close(); s.closeAllConnections() }
      await queue.closeTunnels(env.upgradeGraceMs)
      h2all.destroyAll()
      reporter.stop()
      // The spans of the last requests are exported before exit.
      await tracer?.shutdown().catch(() => {})
      log('shut down')
    })()
    return done
  }
  const close = async (): Promise<void> => {
    shuttingDown = true
    drainer.reset()
    ctx.closing = true
    queue.server.close()
    tlsServing?.close()
    for (const s of extraServers) { s.close(); s.closeAllConnections() }
    await queue.closeTunnels(0)
    h2all.destroyAll()
    reporter.stop()
    await tracer?.shutdown().catch(() => {})
  }
  const reloads = (): number => tlsServing === null ? 0 : tlsServing.watcher.reloads
  const tlsBatchAccepted = (): number | null => tlsMulti === null ? null : tlsMulti.accepted
  return { ports, ctx, reporter, drainer, queue, h2, h2Node, shutdown, close, reloads, tlsBatchAccepted }
}
