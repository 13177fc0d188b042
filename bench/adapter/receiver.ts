/**
 * The receiving end of bench/adapter/run.ts, in its own process so the publishing process is not also the
 * receiver: `sink PORT_DELAY_MS` runs the minimal HTTP sink (binary-mode bodies and CloudEvents batches),
 * `sub URL TOPIC QOS` a plain mqtt.js subscriber (the floor). Payloads are {"i":N,"t":epochMs}; latency is
 * measured here against the same wall clock (performance.timeOrigin + now). It reports its count over IPC
 * as it changes, and latency percentiles on request.
 */
import { createServer } from 'node:http'
import { performance } from 'node:perf_hooks'
import mqtt from 'mqtt'

const seen = new Set<number>()
let latencies: number[] = []
let duplicates = 0
let lastSent = -1

function onMessage (payload: Buffer | string): void {
  const now = performance.timeOrigin + performance.now()
  const { i, t } = JSON.parse(payload.toString()) as { i: number; t: number }
  if (seen.has(i)) { duplicates++; return }
  seen.add(i)
  latencies.push(now - t)
}

function pct (xs: number[], p: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p / 100 * s.length) - 1))] as number
}

const send = (m: unknown): void => { process.send?.(m) }
setInterval(() => { if (seen.size !== lastSent) { lastSent = seen.size; send({ count: seen.size }) } }, 2)
process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'reset') { seen.clear(); latencies = []; duplicates = 0; lastSent = 0; send({ reset: true }) }
  if (m.cmd === 'report') send({ report: { count: seen.size, duplicates, p50: pct(latencies, 50), p99: pct(latencies, 99) } })
  if (m.cmd === 'exit') process.exit(0)
})

const [mode, a, b, c] = process.argv.slice(2)
if (mode === 'sink') {
  const delayMs = Number(a ?? 0)
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const answer = (): void => {
        const body = Buffer.concat(chunks)
        if (req.headers['content-type'] === 'application/cloudevents-batch+json') {
          for (const ev of JSON.parse(body.toString()) as Array<{ data: unknown }>) onMessage(JSON.stringify(ev.data))
        } else {
          onMessage(body)
        }
        res.writeHead(200, { 'content-length': '0' }).end()
      }
      if (delayMs > 0) setTimeout(answer, delayMs); else answer()
    })
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => send({ url: `http://127.0.0.1:${(server.address() as { port: number }).port}` }))
} else if (mode === 'sub') {
  const client = await mqtt.connectAsync(a as string, { clientId: `bench-floor-${process.pid}`, protocolVersion: 5, reconnectPeriod: 0 })
  client.on('message', (_t, payload) => onMessage(payload))
  await client.subscribeAsync(b as string, { qos: Number(c) as 0 | 1 })
  send({ ready: true })
} else {
  console.error('usage: receiver.js sink DELAY_MS | sub URL TOPIC QOS')
  process.exit(2)
}
