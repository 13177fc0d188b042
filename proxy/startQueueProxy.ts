import http from 'node:http'
import type net from 'node:net'
import { Breaker } from '../core/breaker.js'
import { systemClock, type Clock } from '../core/clock.js'
import { Drainer } from './drainer.js'
import { H2Front } from './h2/h2Server.js'
import { startTlsServing, tlsFilesPresent, type TlsServing } from './h2/tlsServer.js'
import type { ProxyEnv } from './env.js'
import { ProxyCounters, type ProxyContext } from './proxyContext.js'
import { QueueServer } from './queueServer.js'
import { ReadinessProber } from './readinessProber.js'
import { StatsReporter } from './statsReporter.js'
import { UpstreamPool } from './upstreamPool.js'
import { createUserMetrics } from './userMetrics.js'

export interface QueueProxy {
  /** `tls` is null when no certificate is mounted (Knative runs no TLS server then). */
  ports: { serving: number; admin: number; stats: number; userMetrics: number; tls: number | null }
  ctx: ProxyContext
  reporter: StatsReporter
  drainer: Drainer
  queue: QueueServer
  /** The SIGTERM sequence: drain (probes fail, quiet period), close servers, bounded grace for upgrades. */
  shutdown (): Promise<void>
  /** Stops everything at once, without draining (tests, start-up failures). */
  close (): Promise<void>
  /** How many times the TLS certificate was reloaded after a rotation (0 without TLS). */
  reloads (): number
}

function listen (server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve((server.address() as net.AddressInfo).port)
    })
  })
}

/**
 * Builds and starts the whole sidecar from its config, in the order of knative/serving
 * pkg/queue/sharedmain/main.go: stats reporter, breaker (only when CONTAINER_CONCURRENCY >= 1, sized
 * CC in flight plus 10 x CC queued, pkg/queue/sharedmain/handlers.go buildBreaker), the main server,
 * then the admin (/wait-for-drain), autoscaler-stats and user-metrics servers.
 */
export async function startQueueProxy (env: ProxyEnv, opts: { clock?: Clock; log?: (msg: string, fields?: Record<string, unknown>) => void } = {}): Promise<QueueProxy> {
  const clock = opts.clock ?? systemClock
  const log = opts.log ?? (() => {})
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
    labels: { destination_namespace: env.servingNamespace, destination_configuration: env.servingConfiguration, destination_revision: env.servingRevision, destination_pod: env.servingPod }
  })
  const ctx: ProxyContext = {
    clock,
    stats: reporter.stats,
    breaker,
    pool,
    drainer,
    prober: new ReadinessProber(env.readinessProbe),
    totalTimeoutMs: env.revisionTimeoutMs,
    responseStartTimeoutMs: env.responseStartTimeoutMs,
    idleTimeoutMs: env.idleTimeoutMs,
    maxHeaderBytes: env.maxHeaderBytes,
    headerTimeoutMs: env.headerTimeoutMs,
    counters,
    observeDurationMs: metrics.observeDurationMs,
    closing: false
  }
  const h2 = new H2Front(ctx, { maxHeaderBytes: env.maxHeaderBytes, userHost: env.userHost, userPort: env.userPort, upstreamIdleMs: env.upstreamIdleMs, pingMs: env.h2PingMs })
  const queue = new QueueServer(ctx, { h2 })
  // serving pkg/queue/sharedmain/main.go: the TLS server runs when both certificate files are mounted.
  // Started first, so a bad certificate stops start-up before anything listens on the other ports.
  let tlsServing: TlsServing | null = null
  if (tlsFilesPresent(env.tls)) {
    tlsServing = await startTlsServing({ settings: env.tls, queue, h2, host: env.bindHost, port: env.queueServingTlsPort, handshakeTimeoutMs: env.headerTimeoutMs, log })
    log('serving TLS', { port: tlsServing.port, certFile: env.tls.certFile })
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

  const host = env.bindHost
  const serving = await queue.listen(env.queueServingPort, host)
  const ports = {
    serving,
    admin: await listen(admin, env.adminPort, host),
    stats: await listen(stats, env.statsPort, host),
    userMetrics: await listen(userMetrics, env.userMetricsPort, host),
    tls: tlsServing === null ? null : tlsServing.port
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
      await queue.shutdown(Math.max(env.revisionTimeoutMs, 1000))
      for (const s of [admin, stats, userMetrics]) { s.close(); s.closeAllConnections() }
      await queue.closeTunnels(env.upgradeGraceMs)
      reporter.stop()
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
    for (const s of [admin, stats, userMetrics]) { s.close(); s.closeAllConnections() }
    await queue.closeTunnels(0)
    reporter.stop()
  }
  const reloads = (): number => tlsServing === null ? 0 : tlsServing.watcher.reloads
  return { ports, ctx, reporter, drainer, queue, shutdown, close, reloads }
}
