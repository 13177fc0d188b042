/** Settings of the `iotless up` config a replay runs against. */
export interface ReplayConfigOptions {
  functions: number
  topicPrefix: string
  /** Absolute path of the reply function module (dist/prefetch/replay/replyFunction.js). */
  module: string
  /** The replay's speed-up: one trace minute lasts 60000 / speedup real ms. */
  speedup: number
  brokerPort: number
  metricsPort: number
  prefetch: boolean
  /** Keep-alive in trace minutes (10: OpenWhisk's idle-container default), scaled by the speed-up. */
  keepAliveTraceMin?: number
  maxScale?: number
  /** Extra init time of each instance, ms (stands in for a heavier runtime). */
  initMs?: number
  /** prefetch.leadMs (real ms). */
  leadMs?: number
}

export function replayFunctionName (i: number): string { return `r${i}` }
export function replayInTopic (prefix: string, i: number): string { return `${prefix}/${replayFunctionName(i)}/in` }
export function replayOutTopic (prefix: string, i: number): string { return `${prefix}/${replayFunctionName(i)}/out` }

/**
 * A config for `iotless up` with one reply function per replayed trace function (`r0`, `r1`, ...), each on its own
 * route `<prefix>/r<i>/in` replying on `<prefix>/r<i>/out`, with time scaled by the speed-up: the pool keep-alive
 * is `keepAliveTraceMin` trace minutes and prefetch.minuteMs one trace minute.
 */
export function replayConfig (o: ReplayConfigOptions): Record<string, unknown> {
  const minuteMs = Math.max(1, Math.round(60_000 / o.speedup))
  const functions: Record<string, unknown> = {}
  const routes: unknown[] = []
  for (let i = 0; i < o.functions; i++) {
    functions[replayFunctionName(i)] = {
      module: o.module,
      concurrency: 1,
      maxScale: o.maxScale ?? 4,
      keepAliveMs: Math.round((o.keepAliveTraceMin ?? 10) * minuteMs),
      config: o.initMs === undefined ? {} : { initMs: o.initMs }
    }
    routes.push({ topic: replayInTopic(o.topicPrefix, i), function: replayFunctionName(i), reply: replayOutTopic(o.topicPrefix, i), qos: 1 })
  }
  return {
    broker: { port: o.brokerPort, clientId: `iotless-replay-adapter-${o.topicPrefix.replace(/[^A-Za-z0-9-]/g, '-')}` },
    metrics: { port: o.metricsPort },
    log: { level: 'warn' },
    prefetch: { enabled: o.prefetch, policy: 'iotless', minuteMs, leadMs: Math.min(o.leadMs ?? 0, minuteMs) },
    routes,
    functions
  }
}
