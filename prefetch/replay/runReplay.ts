import { performance } from 'node:perf_hooks'
import mqtt from 'mqtt'
import { request } from 'undici'
import { parseInvocationCounts } from '../live/metricsArrivalSource.js'
import { percentileSorted } from '../sim/simulate.js'
import { replayFunctionName, replayInTopic } from './replayConfig.js'
import type { ReplaySchedule } from './replaySchedule.js'

export interface ReplayOptions {
  url: string
  schedule: ReplaySchedule
  topicPrefix: string
  speedup: number
  qos: 0 | 1
  /** After the last publish, wait this long for the replies still missing; they are then lost. */
  timeoutMs: number
  /** The stack's /metrics, to count instances started (iotless_cold_starts_total) during the run. */
  metricsUrl?: string | undefined
  /** Also report the figures without the first N trace minutes (the start-up storm), as `afterWarmup`. */
  warmupMinutes?: number
}

export interface ReplaySample {
  fn: number
  /** Sent during the warm-up minutes (left out of `afterWarmup`). */
  warmup: boolean
  /** Real ms from the start of the run to the publish. */
  sentMs: number
  /** Publish to reply, ms; undefined when lost. */
  latencyMs: number | undefined
  /** The instance that answered finished init after the message was sent: the message waited for a cold start. */
  cold: boolean | undefined
}

export interface WindowFigures {
  warmupMinutes: number
  messages: number
  lost: number
  coldStarts: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

function figures (samples: readonly ReplaySample[]): { lat: number[]; warm: number[]; cold: number[] } {
  const lat = samples.flatMap((s) => (s.latencyMs === undefined ? [] : [s.latencyMs])).sort((a, b) => a - b)
  const warm = samples.flatMap((s) => (s.latencyMs !== undefined && s.cold === false ? [s.latencyMs] : [])).sort((a, b) => a - b)
  const cold = samples.flatMap((s) => (s.latencyMs !== undefined && s.cold === true ? [s.latencyMs] : [])).sort((a, b) => a - b)
  return { lat, warm, cold }
}

export interface ReplayReport {
  trace: string
  speedup: number
  traceMinutes: number
  functions: number
  messages: number
  replies: number
  lost: number
  /** The same figures for the messages after the first `warmupMinutes` trace minutes (the start-up storm left out). */
  afterWarmup: WindowFigures | undefined
  coldStarts: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  meanMs: number
  warmP50Ms: number
  coldP50Ms: number
  /** iotless_cold_starts_total increase (instances started, pre-warms included) when --metrics-url was given. */
  instancesStarted: number | undefined
  /**
   * Instances ready (busy or idle) integrated over the run, instance-seconds of real time: the memory side.
   * Sampled from iotless_warm_instances every 250 ms when --metrics-url was given.
   */
  warmInstanceSeconds: number | undefined
  /** Arrivals over --max-per-minute that were not sent. */
  capped: number
  durationSeconds: number
  /** Publish lateness of the schedule (ms, p99): how well the replayer kept the trace's times. */
  publishLagP99Ms: number
}

async function metricSum (url: string | undefined, metric: string): Promise<number | undefined> {
  if (url === undefined) return undefined
  const res = await request(url)
  const text = await res.body.text()
  let n = 0
  for (const v of parseInvocationCounts(text, metric).values()) n += v
  return n
}

const coldStartsTotal = (url: string | undefined): Promise<number | undefined> => metricSum(url, 'iotless_cold_starts_total')

/** Integrates iotless_warm_instances over time by sampling it every `everyMs`. */
function sampleWarm (url: string | undefined, everyMs: number): { stop: () => Promise<number | undefined> } {
  if (url === undefined) return { stop: async () => undefined }
  let total = 0
  let last = performance.now()
  let lastValue = 0
  let stopped = false
  const loop = (async () => {
    while (!stopped) {
      try {
        const v = (await metricSum(url, 'iotless_warm_instances')) ?? 0
        const now = performance.now()
        total += lastValue * (now - last) / 1000
        last = now
        lastValue = v
      } catch { /* a missed sample */ }
      await sleep(everyMs)
    }
  })()
  return {
    stop: async () => {
      stopped = true
      await loop
      total += lastValue * (performance.now() - last) / 1000
      return total
    }
  }
}

function sleep (ms: number): Promise<void> { return new Promise((resolve) => setTimeout(resolve, ms)) }

/**
 * Publishes the schedule's messages at their trace times divided by the speed-up, each `{ id, fn, sentAt }` on
 * `<prefix>/r<i>/in`, and takes the replies on `<prefix>/+/out` (the reply function echoes the id).
 */
export async function runReplay (o: ReplayOptions, traceName: string): Promise<{ report: ReplayReport; samples: ReplaySample[] }> {
  const client = await mqtt.connectAsync(o.url, { protocolVersion: 4, clientId: `iotless-replay-${process.pid}-${Math.random().toString(16).slice(2, 10)}`, reconnectPeriod: 0, clean: true })
  const warmupMs = (o.warmupMinutes ?? 0) * 60_000
  const samples: ReplaySample[] = o.schedule.events.map((e) => ({ fn: e.fn, warmup: e.traceMs < warmupMs, sentMs: NaN, latencyMs: undefined, cold: undefined }))
  const sentPerf = new Float64Array(samples.length)
  const sentEpoch = new Float64Array(samples.length)
  let replies = 0
  client.on('message', (_topic, payload) => {
    const now = performance.now()
    let r: { id?: unknown; readyAt?: unknown }
    try { r = JSON.parse(payload.toString('utf8')) as { id?: unknown; readyAt?: unknown } } catch { return }
    if (typeof r.id !== 'number') return
    const s = samples[r.id]
    if (s === undefined || s.latencyMs !== undefined || Number.isNaN(s.sentMs)) return
    s.latencyMs = now - (sentPerf[r.id] ?? now)
    s.cold = typeof r.readyAt === 'number' ? r.readyAt > (sentEpoch[r.id] ?? 0) : undefined
    replies++
  })
  await client.subscribeAsync(`${o.topicPrefix}/+/out`, { qos: 1 })
  const startedBefore = await coldStartsTotal(o.metricsUrl)
  const warmSampler = sampleWarm(o.metricsUrl, 250)
  const lags: number[] = []
  const t0 = performance.now()
  for (let i = 0; i < o.schedule.events.length; i++) {
    const e = o.schedule.events[i]
    const s = samples[i]
    if (e === undefined || s === undefined) continue
    const due = e.traceMs / o.speedup
    const wait = due - (performance.now() - t0)
    if (wait > 1) await sleep(wait)
    const at = performance.now()
    lags.push(Math.max(0, at - t0 - due))
    s.sentMs = at - t0
    sentPerf[i] = at
    sentEpoch[i] = Date.now()
    client.publish(replayInTopic(o.topicPrefix, e.fn), JSON.stringify({ id: i, fn: replayFunctionName(e.fn), sentAt: sentEpoch[i] }), { qos: o.qos })
  }
  const deadline = performance.now() + o.timeoutMs
  while (replies < samples.length && performance.now() < deadline) await sleep(20)
  const durationSeconds = (performance.now() - t0) / 1000
  const warmInstanceSeconds = await warmSampler.stop()
  const startedAfter = await coldStartsTotal(o.metricsUrl)
  await client.endAsync()

  const { lat, warm, cold } = figures(samples)
  const after = samples.filter((s) => !s.warmup)
  const a = figures(after)
  const afterWarmup: WindowFigures | undefined = warmupMs <= 0
    ? undefined
    : { warmupMinutes: o.warmupMinutes ?? 0, messages: after.length, lost: after.length - a.lat.length, coldStarts: a.cold.length, p50Ms: percentileSorted(a.lat, 50), p99Ms: percentileSorted(a.lat, 99), maxMs: a.lat.at(-1) ?? NaN }
  lags.sort((a, b) => a - b)
  const report: ReplayReport = {
    trace: traceName,
    speedup: o.speedup,
    traceMinutes: o.schedule.minutes,
    functions: o.schedule.functions.length,
    messages: samples.length,
    replies: lat.length,
    lost: samples.length - lat.length,
    afterWarmup,
    coldStarts: cold.length,
    p50Ms: percentileSorted(lat, 50),
    p99Ms: percentileSorted(lat, 99),
    maxMs: lat.at(-1) ?? NaN,
    meanMs: lat.length === 0 ? NaN : lat.reduce((a, b) => a + b, 0) / lat.length,
    warmP50Ms: percentileSorted(warm, 50),
    coldP50Ms: percentileSorted(cold, 50),
    instancesStarted: startedBefore === undefined || startedAfter === undefined ? undefined : startedAfter - startedBefore,
    warmInstanceSeconds,
    capped: o.schedule.capped,
    durationSeconds,
    publishLagP99Ms: percentileSorted(lags, 99)
  }
  return { report, samples }
}
