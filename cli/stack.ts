import { availableParallelism } from 'node:os'
import { Registry } from 'prom-client'
import path from 'node:path'
import { systemClock, type Clock } from '../core/clock.js'
import type { Config } from '../core/config/schema.js'
import { Lifecycle } from '../core/lifecycle.js'
import type { Logger } from '../core/log.js'
import { createMetrics, type Metrics } from '../core/metrics.js'
import { startMetricsServer } from '../core/metricsServer.js'
import { RecentTraces } from '../core/tracing/recentTraces.js'
import { teeTracers, type MessageTracer } from '../core/tracing/messageTracer.js'
import { AttemptSpans } from '../core/tracing/attemptSpans.js'
import { DEFAULT_OTLP_TRACES_URL } from '../core/config/otelEnv.js'
import { DashboardService } from '../dashboard/dashboardService.js'
import { startEmbeddedBroker, type EmbeddedBroker } from '../adapters/broker/embeddedBroker.js'
import { MqttAdapter } from '../adapters/ingress/mqttAdapter.js'
import { RouteTable } from '../adapters/ingress/routeTable.js'
import { Capacity } from '../adapters/runtime/capacity/capacityConfig.js'
import { FunctionPool } from '../adapters/runtime/functionPool.js'
import { SpareInstances } from '../adapters/runtime/spareInstances.js'
import { StartGate } from '../adapters/runtime/capacity/startGate.js'
import { PeriodicPredictor } from '../adapters/runtime/capacity/periodicPredictor.js'
import { PreInvoker } from '../adapters/runtime/capacity/preInvoker.js'
import { LocalTarget } from '../adapters/runtime/localTarget.js'
import { localDemand, poolQueueDepth } from '../adapters/runtime/poolQueueDepth.js'
import { readBrokerSecurity } from './brokerSecurity.js'
import { buildTargets, closeRemoteTargets } from './buildTargets.js'
import { embeddedBrokerOptions } from './embeddedBrokerOptions.js'
import { resolveFunctionModule } from './resolveFunctionModule.js'
import { checkEffectStores } from './checkEffectStores.js'
import { parseStoreUrl } from '../effects/storeUrl.js'
import { openDedupStore } from '../effects/openStores.js'
import { DiskSpool } from '../adapters/spool/diskSpool.js'
import { startPoolPrefetch } from './startPoolPrefetch.js'
import type { LivePrefetcher } from '../prefetch/live/livePrefetcher.js'
import { dispatchStrategy } from '../adapters/runtime/dispatch/thresholdDispatch.js'

export interface StackOptions {
  config: Readonly<Config>
  baseDir: string
  log: Logger
  /** Environment handed to function instances. */
  env: NodeJS.ProcessEnv
  clock?: Clock
  registry?: Registry
}

export interface Stack {
  readonly brokerUrl: string
  readonly broker: EmbeddedBroker | undefined
  readonly metricsPort: number | undefined
  readonly metrics: Metrics
  readonly adapter: MqttAdapter
  readonly target: LocalTarget
  /** The prefetcher driving the pool (prefetch.enabled), else undefined. */
  readonly prefetcher: LivePrefetcher | undefined
  /** The last message traces (tracing.recent > 0), else undefined. */
  readonly traces: RecentTraces | undefined
  readonly lifecycle: Lifecycle
  stop(reason?: string): Promise<void>
}

/**
 * The embedded stack of `iotless up`: broker (embedded aedes unless broker.url), local pool, adapter,
 * /metrics. Stop order is the reverse of start: the adapter stops taking messages and finishes what it has,
 * then the pool, broker and metrics server close.
 */
export async function startStack (opts: StackOptions): Promise<Stack> {
  const { config, log } = opts
  const clock = opts.clock ?? systemClock
  const registry = opts.registry ?? new Registry()
  const metrics = createMetrics(registry)
  const lifecycle = new Lifecycle(log)
  try {
    let metricsPort: number | undefined
    // The dashboard mounts on the metrics server once the pool and adapter it shows exist.
    let dashboard: DashboardService | undefined
    if (config.metrics.enabled) {
      const ms = await startMetricsServer(registry, config.metrics.host, config.metrics.port, [(req, res) => dashboard?.handle(req, res) ?? false])
      metricsPort = ms.port
      lifecycle.add('metrics server', ms.close)
      log.info({ url: `http://${config.metrics.host}:${ms.port}/metrics` }, 'metrics endpoint')
    }
    const traces = config.tracing.recent > 0 ? new RecentTraces({ capacity: config.tracing.recent, perSecond: config.tracing.recentPerSecond, clock }) : undefined
    // OpenTelemetry only when asked for: the module and the SDK it imports are not loaded otherwise.
    let tracer: MessageTracer | undefined = traces
    const t = config.tracing
    const otelSettings = t.enabled
      ? { endpoint: t.endpoint === '' ? DEFAULT_OTLP_TRACES_URL : t.endpoint, sampleRatio: t.sampleRatio, serviceName: t.serviceName, maxQueueSize: t.maxQueueSize, exportTimeoutMs: t.exportTimeoutMs, scheduledDelayMs: 1000, exportThread: t.exportThread, protocol: t.protocol }
      : undefined
    if (otelSettings !== undefined) {
      const counters = {
        exported: (n: number) => { metrics.traceSpansExported.inc(n) },
        dropped: (n: number) => { metrics.traceSpansDropped.inc(n) },
        failed: (n: number) => { metrics.traceSpansFailed.inc(n) }
      }
      let otel
      if (t.engine === 'compact') {
        // The adapter's spans without the SDK; the functions' processes the stack starts trace with it, so it must be there.
        const { requireOtelSdk } = await import('../core/tracing/otelTracer.js')
        requireOtelSdk()
        const { startCompactTracing } = await import('../core/tracing/compactTracer.js')
        otel = await startCompactTracing(otelSettings, log, counters)
      } else {
        const { startOtelTracing } = await import('../core/tracing/otelTracer.js')
        otel = await startOtelTracing(otelSettings, log, counters)
      }
      lifecycle.add('tracing', () => otel.shutdown())
      tracer = traces === undefined ? otel.tracer : teeTracers(traces, otel.tracer)
      log.info({ endpoint: otelSettings.endpoint, sampleRatio: t.sampleRatio, engine: t.engine }, 'tracing: OpenTelemetry spans exported over OTLP/HTTP')
    }

    await checkEffectStores(config.functions, opts.baseDir)

    let broker: EmbeddedBroker | undefined
    let brokerUrl = config.broker.url
    let security = readBrokerSecurity(config.broker, opts.baseDir, opts.env)
    if (brokerUrl === '') {
      const embedded = embeddedBrokerOptions(config, opts.baseDir, opts.env, security, log)
      security = embedded.adapterSecurity
      broker = await startEmbeddedBroker(embedded.options)
      brokerUrl = broker.url
      lifecycle.add('embedded broker', () => broker?.close() ?? Promise.resolve())
      log.info({
        host: config.broker.host,
        port: broker.port,
        ...(broker.tlsPort !== undefined ? { tlsHost: embedded.options.tls?.host, tlsPort: broker.tlsPort } : {}),
        users: embedded.options.auth?.users.size ?? 0,
        maxPacketBytes: embedded.options.maxPacketBytes
      }, 'embedded MQTT broker (aedes, MQTT 3.1.1) listening')
    }

    // The pool's queue holds whatever the routes can send at once, so a burst waits instead of being refused.
    const demand = localDemand(config.routes, config.adapter.maxInFlight)
    const capacity = new Capacity(config, { clock, log, metrics })
    lifecycle.add('capacity', async () => { capacity.box?.stop(); capacity.cpuQuota?.close?.() })
    const spareCount = config.capacity.spareInstances === 'auto' ? (capacity.box === undefined ? 0 : 1) : config.capacity.spareInstances
    const spares = spareCount > 0 && Object.keys(config.functions).length > 0 ? new SpareInstances({ count: spareCount, env: opts.env, clock }) : undefined
    if (spares !== undefined) lifecycle.add('spare instances', async () => { spares.close() })
    const startLimit = config.capacity.maxConcurrentStarts === 'cpus' ? availableParallelism() : config.capacity.maxConcurrentStarts
    const startGate = startLimit > 0 ? new StartGate(startLimit) : undefined
    const pools = Object.entries(config.functions).map(([name, fn]) => new FunctionPool({
      name,
      modulePath: resolveFunctionModule(fn.module, opts.baseDir),
      config: fn.config,
      effects: fn.effects === undefined ? undefined : { where: parseStoreUrl(fn.effects.url, `functions.${name}.effects.url`, opts.baseDir), field: `functions.${name}.effects.url`, logMaxAgeMs: fn.effects.logMaxAgeMs },
      tracing: otelSettings === undefined ? undefined : { ...otelSettings, serviceName: `${otelSettings.serviceName}-${name}` },
      env: { ...opts.env, ...fn.env },
      concurrency: fn.concurrency,
      maxScale: fn.maxScale,
      keepAliveMs: fn.keepAliveMs,
      initTimeoutMs: fn.initTimeoutMs,
      timeoutMs: fn.timeoutMs,
      memoryMb: fn.memoryMb,
      queueDepth: poolQueueDepth(fn, demand.get(name) ?? 0),
      dispatch: fn.dispatch === undefined ? undefined : dispatchStrategy(fn.dispatch),
      clock,
      log,
      metrics,
      spares,
      startGate,
      ...capacity.forFunction(name, fn)
    }))
    for (const pool of pools) capacity.watch(pool)
    // Pre-invocation: one period finder for all, a pre-invoker per function that asks for it.
    const periods = new PeriodicPredictor()
    for (const pool of pools) {
      const pre = config.functions[pool.name]?.preInvoke
      if (pre === undefined) continue
      const p = new PreInvoker({ target: pool, predictor: periods, clock, leadMs: pre.leadMs, graceMs: pre.graceMs, onOutcome: (outcome) => metrics?.capacityPreinvocations.inc({ function: pool.name, outcome }) })
      pool.onArrival = (nowMs) => { p.arrived(nowMs) }
      lifecycle.add(`pre-invocation ${pool.name}`, async () => { p.close() })
    }
    const target = new LocalTarget(pools)
    lifecycle.add('local pool', () => target.close())
    const prefetch = startPoolPrefetch({ config: config.prefetch, target, functions: config.functions, clock, log })
    if (prefetch !== undefined) lifecycle.add('prefetch', () => prefetch.prefetcher.stop())
    // Routes on `local` go through the prefetcher's arrival recorder when prefetch is on.
    // With a tracer, each dispatch attempt's span gets the tier its route's placement tried.
    const attemptSpans = tracer === undefined ? undefined : new AttemptSpans()
    const targets = buildTargets(config, opts.baseDir, opts.env, prefetch?.target ?? target, { clock, log, metrics, onDecision: attemptSpans === undefined ? undefined : (r) => { attemptSpans.placed(r) } })
    lifecycle.add('targets', () => closeRemoteTargets(targets))

    // Opened before the broker connection: a store that cannot be opened stops start-up naming adapter.dedup.url.
    const dedupConfig = config.adapter.dedup
    const dedup = dedupConfig === undefined
      ? undefined
      : await openDedupStore(parseStoreUrl(dedupConfig.url, 'adapter.dedup.url', opts.baseDir), dedupConfig, 'adapter.dedup.url')
    if (dedup !== undefined) lifecycle.add('dedup store', () => dedup.close())
    // The spool too (a folder that cannot be opened stops start-up naming adapter.spool.dir); it closes after the adapter stops.
    const spoolConfig = config.adapter.spool
    const spool = spoolConfig === undefined
      ? undefined
      : await DiskSpool.open({ dir: path.resolve(opts.baseDir, spoolConfig.dir), maxBytes: spoolConfig.maxBytes, fsync: spoolConfig.fsync, memoryBytes: spoolConfig.memoryBytes, clock, log, metrics })
    if (spool !== undefined) lifecycle.add('spool', () => spool.close())

    const adapter = new MqttAdapter({
      url: brokerUrl,
      clientId: config.broker.clientId,
      protocol: config.broker.protocol,
      keepaliveSeconds: config.broker.keepaliveSeconds,
      connectTimeoutMs: config.broker.connectTimeoutMs,
      sessionExpirySeconds: config.broker.sessionExpirySeconds,
      maxInFlight: config.adapter.maxInFlight,
      maxUnacked: config.adapter.maxUnacked,
      routes: new RouteTable(config.routes),
      targets,
      maxPayloadBytes: config.adapter.maxPayloadBytes,
      maxAttempts: config.adapter.maxAttempts,
      retryBaseMs: config.adapter.retryBaseMs,
      deadLetterTopic: config.adapter.deadLetterTopic,
      dedup,
      spool,
      security,
      clock,
      log,
      metrics,
      tracer,
      attemptSpans
    })
    await adapter.start()
    lifecycle.add('adapter', async () => {
      if (broker !== undefined) {
        // The embedded broker's queue dies with this process: refuse new publishes first (publishers keep
        // their unacknowledged QoS 1/2 messages), then handle everything it already accepted.
        // The adapter's replies and dead letters leave on its reply connection: that one may still publish.
        broker.stopAcceptingPublishes(adapter.publisherClientId)
        await adapter.waitQuiet(100, config.adapter.shutdownGraceMs)
      }
      await adapter.stop(config.adapter.shutdownGraceMs)
    })
    if (config.routes.length === 0) log.warn('no routes configured: messages will not reach any function')
    if (metricsPort !== undefined && config.metrics.dashboard) {
      const prefetcher = prefetch?.prefetcher
      dashboard = new DashboardService({
        registry,
        clock,
        traces,
        routeTargets: new Map(config.routes.map((r, i) => [`routes[${i}]`, { target: r.target, function: r.function }])),
        pools: () => pools.map((p) => ({ name: p.name, warm: p.warmInstances, starting: p.startingInstances, busy: p.inFlight, queued: p.queued })),
        prefetch: prefetcher === undefined
          ? undefined
          : () => prefetcher.functions.flatMap((fn) => {
            const d = prefetcher.lastDecision(fn)
            return d === undefined ? [] : [{ function: fn, wanted: d.instances, decidedAtMs: d.nowMs }]
          }),
        intervalMs: config.metrics.dashboardIntervalMs,
        rateWindowMs: 10_000,
        traceCount: 20
      })
      dashboard.start()
      const d = dashboard
      lifecycle.add('dashboard', async () => { d.close() })
      log.info({ url: `http://${config.metrics.host}:${metricsPort}/` }, 'dashboard')
    }

    return {
      brokerUrl,
      broker,
      metricsPort,
      metrics,
      adapter,
      target,
      prefetcher: prefetch?.prefetcher,
      traces,
      lifecycle,
      stop: (reason = 'stop') => lifecycle.shutdown(reason)
    }
  } catch (err) {
    await lifecycle.shutdown('start-up failed')
    throw err
  }
}
