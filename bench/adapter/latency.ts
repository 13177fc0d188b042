/**
 * Publish-to-reply latency at low load, beside the bare broker round trip through the same broker in the
 * same run (issue 11 item 6: a warm reply took 45.6 ms, Nagle plus delayed ACK, against about 2 ms bare).
 * - bare: a plain mqtt.js responder (TCP_NODELAY set) answers each request by publishing it back;
 * - iotless: the request is a reading on a route, the echo function runs in the local pool, its reply is
 *   published by the adapter.
 * Both QoS 1 in and out, one request at a time with a pause between (low load). Brokers: the embedded one
 * (`iotless up`), and Mosquitto with and without `set_tcp_nodelay true` (`iotless adapter`). Then cold starts:
 * the same request after the instance was reaped (keepAliveMs 300), as the README quotes.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { performance } from 'node:perf_hooks'
import mqtt, { type MqttClient } from 'mqtt'
import { startOwnMosquitto, type OwnMosquitto } from '../../test/helpers/ownMosquitto.js'

export interface LatencyRow { broker: string; bareP50: number; bareP99: number; p50: number; p99: number; coldMs: number[] }

const WARM = Number(process.env.BENCH_LATENCY_REQUESTS ?? 200)
const GAP_MS = 10

function noDelay (c: MqttClient): MqttClient {
  (c.stream as net.Socket | undefined)?.setNoDelay?.(true)
  return c
}

async function freePort (): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)) })
  })
}

async function until (what: string, cond: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms
  while (!await cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** One request at a time: publish, wait for the reply carrying the same id. Returns each round trip in ms. */
async function roundTrips (url: string, reqTopic: string, respFilter: string, n: number, gapMs: number): Promise<number[]> {
  const client = noDelay(await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, clientId: `lat-${process.pid}-${Math.random().toString(16).slice(2)}` }))
  const waiting = new Map<number, (t: number) => void>()
  client.on('message', (_topic, payload) => {
    const t = performance.now()
    let id: unknown
    try {
      const m = JSON.parse(payload.toString()) as { id?: unknown; json?: { id?: unknown } }
      id = m.json?.id ?? m.id
    } catch { return }
    if (typeof id === 'number') waiting.get(id)?.(t)
  })
  await client.subscribeAsync(respFilter, { qos: 1 })
  const out: number[] = []
  for (let i = 0; i < n; i++) {
    const id = Math.floor(Math.random() * 1e9)
    const t0 = performance.now()
    const got = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => { waiting.delete(id); reject(new Error(`no reply to ${reqTopic} within 10 s`)) }, 10_000)
      waiting.set(id, (t) => { clearTimeout(timer); waiting.delete(id); resolve(t) })
    })
    await client.publishAsync(reqTopic, JSON.stringify({ id }), { qos: 1 })
    out.push(await got - t0)
    if (gapMs > 0) await new Promise((resolve) => setTimeout(resolve, gapMs))
  }
  await client.endAsync()
  return out
}

/** The bare path: a plain responder that publishes each request back. */
async function bare (url: string, tag: string): Promise<number[]> {
  const responder = noDelay(await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, clientId: `resp-${tag}-${process.pid}` }))
  responder.on('message', (_t, payload) => { responder.publish(`bare/${tag}/resp`, payload, { qos: 1 }) })
  await responder.subscribeAsync(`bare/${tag}/req`, { qos: 1 })
  await roundTrips(url, `bare/${tag}/req`, `bare/${tag}/resp`, 20, 0)
  const rtts = await roundTrips(url, `bare/${tag}/req`, `bare/${tag}/resp`, WARM, GAP_MS)
  await responder.endAsync()
  return rtts
}

function configFor (brokerUrl: string, brokerPort: number, echoModule: string, keepAliveMs: number): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iotless-bench-latency-'))
  const file = path.join(dir, 'iotless.json')
  fs.writeFileSync(file, JSON.stringify({
    broker: { url: brokerUrl, port: brokerPort, clientId: `bench-lat-${process.pid}-${Math.random().toString(16).slice(2, 8)}`, sessionExpirySeconds: 0 },
    metrics: { enabled: false },
    log: { level: 'warn' },
    prefetch: { enabled: false },
    routes: [{ topic: 'lat/{dev}', function: 'echo', reply: 'lat-out/{dev}', qos: 1 }],
    functions: { echo: { module: echoModule, keepAliveMs } }
  }))
  return file
}

async function startIotless (cli: string, command: 'up' | 'adapter', file: string): Promise<ChildProcess> {
  return spawn(process.execPath, [cli, command, '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] })
}

async function accepts (port: number): Promise<boolean> {
  return await new Promise<boolean>((resolve) => { const c = net.connect(port, '127.0.0.1'); c.once('connect', () => { c.destroy(); resolve(true) }); c.once('error', () => resolve(false)) })
}

async function startMosquitto (nodelay: boolean): Promise<OwnMosquitto> {
  return await startOwnMosquitto({ persistence: 'false', ...(nodelay ? { set_tcp_nodelay: 'true' } : {}) })
}

const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN }

/** Warm latency through iotless, then cold starts (each after the instance was reaped). */
async function throughIotless (url: string): Promise<{ warm: number[]; cold: number[] }> {
  await until('iotless answering', async () => {
    try { await roundTrips(url, 'lat/probe', 'lat-out/#', 1, 0); return true } catch { return false }
  }, 30_000)
  await roundTrips(url, 'lat/warm', 'lat-out/#', 20, 0)
  const warm = await roundTrips(url, 'lat/d1', 'lat-out/#', WARM, GAP_MS)
  const cold: number[] = []
  for (let k = 0; k < 5; k++) {
    await new Promise((resolve) => setTimeout(resolve, 1200)) // keepAliveMs 300: reaped by now
    cold.push(...await roundTrips(url, 'lat/cold', 'lat-out/#', 1, 0))
  }
  return { warm, cold }
}

export async function latencyRows (cli: string, echoModule: string): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = []
  {
    const port = await freePort()
    const child = await startIotless(cli, 'up', configFor('', port, echoModule, 300))
    const url = `mqtt://127.0.0.1:${port}`
    await until('embedded broker', () => accepts(port), 15_000)
    const b = await bare(url, 'embedded')
    const r = await throughIotless(url)
    rows.push({ broker: 'embedded (aedes, iotless up)', bareP50: pct(b, 0.5), bareP99: pct(b, 0.99), p50: pct(r.warm, 0.5), p99: pct(r.warm, 0.99), coldMs: r.cold })
    child.kill('SIGTERM')
    await once(child, 'exit')
  }
  for (const nodelay of [true, false]) {
    const m = await startMosquitto(nodelay)
    const child = await startIotless(cli, 'adapter', configFor(m.url, 0, echoModule, 300))
    const b = await bare(m.url, `mq${nodelay ? 'n' : 'd'}`)
    const r = await throughIotless(m.url)
    rows.push({ broker: `Mosquitto 2${nodelay ? ', set_tcp_nodelay true' : ', default (Nagle on)'}`, bareP50: pct(b, 0.5), bareP99: pct(b, 0.99), p50: pct(r.warm, 0.5), p99: pct(r.warm, 0.99), coldMs: r.cold })
    child.kill('SIGTERM')
    await once(child, 'exit')
    await m.stop()
  }
  return rows
}

export function latencyTable (rows: LatencyRow[]): string {
  const f = (x: number): string => Number.isFinite(x) ? x.toFixed(2) : 'n/a'
  const lines = [
    `Publish-to-reply latency at low load (QoS 1 in and out, one request at a time, ${WARM} requests ${GAP_MS} ms apart, after 20 to warm up), beside the bare broker round trip through the same broker:`,
    '',
    '| broker | bare round trip p50 ms | p99 ms | iotless warm reply p50 ms | p99 ms | ratio p50 (target <= 2) | cold start (first reply after the instance was reaped), ms |',
    '| --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const r of rows) {
    lines.push(`| ${r.broker} | ${f(r.bareP50)} | ${f(r.bareP99)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.p50 / r.bareP50)} | ${r.coldMs.map((x) => x.toFixed(0)).join(', ')} |`)
  }
  return lines.join('\n')
}
