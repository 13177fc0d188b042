import { Registry } from 'prom-client'
import { systemClock, type Clock } from '../core/clock.js'
import type { Config } from '../core/config/schema.js'
import { Lifecycle } from '../core/lifecycle.js'
import type { Logger } from '../core/log.js'
import { createMetrics, type Metrics } from '../core/metrics.js'
import { startMetricsServer } from '../core/metricsServer.js'
import { startEmbeddedBroker, type EmbeddedBroker } from '../adapters/broker/embeddedBroker.js'
import { MqttAdapter } from '../adapters/ingress/mqttAdapter.js'
import { RouteTable } from '../adapters/ingress/routeTable.js'
import { Capacity } from '../adapters/runtime/capacity/capacityConfig.js'
import { FunctionPool } from '../adapters/runtime/functionPool.js'
import { LocalTarget } from '../adapters/runtime/localTarget.js'
import { readBrokerSecurity } from './brokerSecurity.js'
import { buildTargets, closeRemoteTargets } from './buildTargets.js'
import { resolveFunctionModule } from './resolveFunctionModule.js'
import { startPoolPrefetch } from './startPoolPrefetch.js'
import type { LivePrefetcher } from '../prefetch/live/livePrefetcher.js'

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
    if (config.metrics.enabled) {
      const ms = await startMetricsServer(registry, config.metrics.host, config.metrics.port)
      metricsPort = ms.port
      lifecycle.add('metrics server', ms.close)
      log.info({ url: `http://${config.metrics.host}:${ms.port}/metrics` }, 'metrics endpoint')
    }

    let broker: EmbeddedBroker | undefined
    let brokerUrl = config.broker.url
    if (brokerUrl === '') {
      broker = await startEmbeddedBroker({ host: config.broker.host, port: config.broker.port, log })
      brokerUrl = broker.url
      lifecycle.add('embedded broker', () => broker?.close() ?? Promise.resolve())
      log.info({ host: config.broker.host, port: broker.port }, 'embedded MQTT broker (aedes, MQTT 3.1.1) listening')
    }

    const capacity = new Capacity(config, { clock, log, metrics })
    lifecycle.add('capacity', async () => { capacity.box?.stop(); capacity.cpuQuota?.close?.() })
    const pools = Object.entries(config.functions).map(([name, fn]) => new FunctionPool({
      name,
      modulePath: resolveFunctionModule(fn.module, opts.baseDir),
      config: fn.config,
      env: { ...opts.env, ...fn.env },
      concurrency: fn.concurrency,
      maxScale: fn.maxScale,
      keepAliveMs: fn.keepAliveMs,
      initTimeoutMs: fn.initTimeoutMs,
      timeoutMs: fn.timeoutMs,
      clock,
      log,
      metrics,
      ...capacity.forFunction(name, fn)
    }))
    for (const pool of pools) capacity.watch(pool)
    const target = new LocalTarget(pools)
    lifecycle.add('local pool', () => target.close())
    const prefetch = startPoolPrefetch({ config: config.prefetch, target, functions: config.functions, clock, log })
    if (prefetch !== undefined) lifecycle.add('prefetch', () => prefetch.prefetcher.stop())
    // Routes on `local` go through the prefetcher's arrival recorder when prefetch is on.
    const targets = buildTargets(config, opts.baseDir, opts.env, prefetch?.target ?? target)
    lifecycle.add('targets', () => closeRemoteTargets(targets))

    const adapter = new MqttAdapter({
      url: brokerUrl,
      clientId: config.broker.clientId,
      protocol: config.broker.protocol,
      keepaliveSeconds: config.broker.keepaliveSeconds,
      connectTimeoutMs: config.broker.connectTimeoutMs,
      sessionExpirySeconds: config.broker.sessionExpirySeconds,
      maxInFlight: config.adapter.maxInFlight,
      routes: new RouteTable(config.routes),
      targets,
      maxPayloadBytes: config.adapter.maxPayloadBytes,
      maxAttempts: config.adapter.maxAttempts,
      retryBaseMs: config.adapter.retryBaseMs,
      deadLetterTopic: config.adapter.deadLetterTopic,
      security: readBrokerSecurity(config.broker, opts.baseDir, opts.env),
      clock,
      log,
      metrics
    })
    await adapter.start()
    lifecycle.add('adapter', async () => {
      if (broker !== undefined) {
        // The embedded broker's queue dies with this process: refuse new publishes first (publishers keep
        // their unacknowledged QoS 1/2 messages), then handle everything it already accepted.
        broker.stopAcceptingPublishes(config.broker.clientId)
        await adapter.waitQuiet(100, config.adapter.shutdownGraceMs)
      }
      await adapter.stop(config.adapter.shutdownGraceMs)
    })
    if (config.routes.length === 0) log.warn('no routes configured: messages will not reach any function')

    return {
      brokerUrl,
      broker,
      metricsPort,
      metrics,
      adapter,
      target,
      prefetcher: prefetch?.prefetcher,
      lifecycle,
      stop: (reason = 'stop') => lifecycle.shutdown(reason)
    }
  } catch (err) {
    await lifecycle.shutdown('start-up failed')
    throw err
  }
}
