/**
 * The tracer alone, per message, without the adapter around it: each engine in a process of its own makes
 * the spans the pipeline makes for a routed QoS 1 message (receive, route match, one dispatch attempt with
 * its attributes, the event id and the outcome set) and exports them to the bench's OTLP/HTTP receiver
 * (otlpSink.ts), the queue big enough that nothing is dropped. CPU of the whole process (all threads: the export worker's included) per message.
 *
 *   node dist/bench/tracing/spanCost.js      (SPAN_COST_MESSAGES=50000 SPAN_COST_ROUNDS=3)
 *
 * Modes: none (the loop without a tracer), sdk (tracing.engine: sdk, export worker), compact (OTLP
 * protobuf written as spans end, the bytes transferred to the worker), compact-json (flat records cloned to
 * the worker, which encodes OTLP JSON), and the compact engine at 1% sampling.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import type { MessageTracer } from '../../core/tracing/messageTracer.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const MESSAGES = Number(process.env.SPAN_COST_MESSAGES ?? 50_000)
const ROUNDS = Number(process.env.SPAN_COST_ROUNDS ?? 3)
const MODES = (process.env.SPAN_COST_MODES ?? 'none,sdk,compact,compact-json,compact-1%').split(',')

async function child (mode: string, endpoint: string): Promise<void> {
  const { createLogger } = await import('../../core/log.js')
  const log = createLogger({ level: 'warn' })
  const settings = { endpoint, sampleRatio: mode.endsWith('1%') ? 0.01 : 1, serviceName: 'bench', maxQueueSize: 1_000_000, exportTimeoutMs: 10_000, scheduledDelayMs: 1000 }
  let tracer: MessageTracer | undefined
  let shutdown = async (): Promise<void> => {}
  if (mode === 'sdk') {
    const { startOtelTracing } = await import('../../core/tracing/otelTracer.js')
    const o = await startOtelTracing(settings, log)
    tracer = o.tracer
    shutdown = () => o.shutdown()
  } else if (mode.startsWith('compact')) {
    const { startCompactTracing } = await import('../../core/tracing/compactTracer.js')
    const o = await startCompactTracing({ ...settings, protocol: mode === 'compact-json' ? 'http/json' : 'http/protobuf' }, log)
    tracer = o.tracer
    shutdown = () => o.shutdown()
  }
  const payload = Buffer.from('{"i":1,"t":1733000000000}')
  // As the pipeline makes them: the route's dispatch attributes one frozen object, the attempt set on the span.
  const dispatchAttributes = Object.freeze({ 'iotless.route': 'routes[0]', 'iotless.target': 'sink', 'faas.invoked_name': 'sink', 'iotless.tier': 'sink' })
  let sink = 0
  // Batches of 500 messages, each batch yielding to the event loop (as the adapter does between messages).
  const runBatch = (from: number): void => {
    for (let i = from; i < from + 500; i++) {
      const m = tracer?.begin({ topic: 'bench/tracing/dev-1', payload, qos: 1 })
      const match = m?.stage('route match')
      match?.set('iotless.routes', 'routes[0]')
      match?.end()
      m?.set('cloudevents.event_id', `id-${i}`)
      const d = m?.stage('dispatch', m?.recording === false ? undefined : dispatchAttributes)
      if (d?.recording !== false) d?.set('iotless.attempt', 1)
      sink += d?.traceparent?.length ?? 0
      d?.end()
      m?.end('ack')
    }
  }
  const results: number[] = []
  for (let r = 0; r <= ROUNDS; r++) {
    const c0 = process.cpuUsage()
    for (let b = 0; b < MESSAGES; b += 500) {
      runBatch(b)
      await new Promise((resolve) => setImmediate(resolve))
    }
    // Let the last exports finish, so that their CPU counts.
    await new Promise((resolve) => setTimeout(resolve, 1500))
    const c = process.cpuUsage(c0)
    if (r > 0) results.push((c.user + c.system) / MESSAGES) // round 0: warm-up
  }
  await shutdown()
  process.send?.({ results, sink })
}

async function main (): Promise<void> {
  const otlp = fork(path.join(here, 'otlpSink.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] })
  const [{ url }] = await once(otlp, 'message') as [{ url: string }]
  const load0 = os.loadavg()
  const out: Record<string, number[]> = {}
  for (let r = 0; r < 2; r++) {
    for (const mode of MODES) {
      const c = fork(fileURLToPath(import.meta.url), ['child', mode, url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      const [m] = await once(c, 'message') as [{ results: number[] }]
      await once(c, 'exit')
      ;(out[mode] ??= []).push(...m.results)
    }
  }
  const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] as number }
  const base = median(out.none ?? [0])
  for (const mode of MODES) {
    const xs = out[mode] ?? []
    console.log(`${mode.padEnd(14)} ${median(xs).toFixed(2).padStart(7)} µs CPU per message (median of ${xs.length}: ${xs.map((x) => x.toFixed(1)).join(', ')}), tracing's share ${(median(xs) - base).toFixed(2)} µs`)
  }
  console.log(`load average before ${load0.map((x) => x.toFixed(2)).join(', ')}, after ${os.loadavg().map((x) => x.toFixed(2)).join(', ')}`)
  otlp.send({ cmd: 'exit' })
}

if (process.argv[2] === 'child') await child(process.argv[3] as string, process.argv[4] as string)
else await main()
