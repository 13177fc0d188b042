/**
 * Publish -> subscriber -> reply round trip through the embedded broker, sequential (one request in flight, the
 * case of a warm function's reply), with the baseline beside it in the same run: aedes behind a plain
 * net.createServer (what `iotless up` ran before: no TCP_NODELAY, no checks), ours with TCP_NODELAY off (the
 * checks and the metered connection alone), and ours as shipped. Clients are mqtt.js, the same in all three,
 * first with their default sockets (Nagle on), then with TCP_NODELAY set on them.
 *
 *   npm run build && node dist/bench/broker/roundTrip.js [--rounds 300] [--write]
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import { startEmbeddedBroker } from '../../adapters/broker/embeddedBroker.js'
import { createLogger } from '../../core/log.js'
import { writeResultsSection } from '../writeResultsSection.js'

interface Variant { name: string; start(): Promise<{ url: string; close(): Promise<void> }> }

const log = createLogger({ level: 'silent' })

const variants: Variant[] = [
  {
    name: 'baseline: aedes on net.createServer (before)',
    async start () {
      const aedes = await Aedes.createBroker({})
      const sockets = new Set<Socket>()
      const server: Server = createServer((s) => { sockets.add(s); aedes.handle(s) })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      return {
        url: `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`,
        close: async () => { await new Promise<void>((resolve) => aedes.close(() => resolve())); for (const s of sockets) s.destroy(); await new Promise<void>((resolve) => server.close(() => resolve())) }
      }
    }
  },
  {
    name: 'embedded broker, TCP_NODELAY off',
    async start () { const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log, noDelay: false }); return { url: b.url, close: () => b.close() } }
  },
  {
    name: 'embedded broker (ours: TCP_NODELAY, checks, packet cap)',
    async start () { const b = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log }); return { url: b.url, close: () => b.close() } }
  }
]

function pct (sorted: number[], p: number): number { return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] as number }

async function measure (url: string, rounds: number, clientNoDelay: boolean): Promise<number[]> {
  const opts = { protocolVersion: 4 as const, reconnectPeriod: 0 }
  const requester = await mqtt.connectAsync(url, opts)
  const responder = await mqtt.connectAsync(url, opts)
  if (clientNoDelay) for (const c of [requester, responder]) (c.stream as Socket).setNoDelay(true)
  responder.on('message', (topic, payload) => { responder.publish(topic.replace(/^req/, 'res'), payload, { qos: 1 }) })
  await responder.subscribeAsync('req/#', { qos: 1 })
  await requester.subscribeAsync('res/#', { qos: 1 })
  const waiting = new Map<string, () => void>()
  requester.on('message', (topic) => { waiting.get(topic)?.(); waiting.delete(topic) })
  const out: number[] = []
  for (let i = 0; i < rounds + 20; i++) {
    const t0 = process.hrtime.bigint()
    await new Promise<void>((resolve) => { waiting.set(`res/${i}`, resolve); requester.publish(`req/${i}`, '{"t":21.5}', { qos: 1 }) })
    if (i >= 20) out.push(Number(process.hrtime.bigint() - t0) / 1e6) // the first 20 warm up
  }
  await Promise.all([requester.endAsync(true), responder.endAsync(true)])
  return out.sort((a, b) => a - b)
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '300' }, write: { type: 'boolean', default: false } } })
  const rounds = Number(values.rounds)
  const loadBefore = loadavg().map((x) => x.toFixed(2)).join(' ')
  const rows: Array<{ name: string; clients: string; p50: number; p90: number; p99: number; base: number }> = []
  for (const clientNoDelay of [false, true]) {
    let base = 0
    for (const v of variants) {
      const b = await v.start()
      const ms = await measure(b.url, rounds, clientNoDelay)
      await b.close()
      if (base === 0) base = pct(ms, 0.5)
      rows.push({ name: v.name, clients: clientNoDelay ? 'TCP_NODELAY' : 'mqtt.js default (Nagle)', p50: pct(ms, 0.5), p90: pct(ms, 0.9), p99: pct(ms, 0.99), base })
    }
  }
  const loadAfter = loadavg().map((x) => x.toFixed(2)).join(' ')
  const table = [
    '| broker | client sockets | p50 ms | p90 ms | p99 ms | p50 vs baseline (same clients) |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.name} | ${r.clients} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${(r.p50 / r.base).toFixed(3)}x |`)
  ].join('\n')
  process.stdout.write(`${table}\n\nrounds ${rounds} per broker, sequential; load average before ${loadBefore}, after ${loadAfter}\n`)
  if (values.write) {
    writeResultsSection(process.cwd(), 'Embedded broker: publish -> reply round trip', `## Embedded broker: publish -> reply round trip

\`node dist/bench/broker/roundTrip.js --rounds ${rounds} --write\` (bench/broker/roundTrip.ts). One requester publishes QoS 1 to
\`req/i\`, a responder subscribed to \`req/#\` publishes the reply to \`res/i\` (QoS 1), the requester waits for it before
the next: the path of a warm function's reply, broker only (no adapter, no function). Both clients are mqtt.js on
loopback, the same for every row; the rows ran one after the other in one process, ${new Date().toISOString().slice(0, 10)}.
Machine shared with other sessions: load average ${loadBefore} before, ${loadAfter} after.

${table}

The baseline is aedes as \`iotless up\` ran it before (plain \`net.createServer\`, Nagle on). The middle rows have
our checks and packet cap but Nagle on: the ~40 ms steps are Nagle's algorithm holding a second small write (a
forwarded PUBLISH after a PUBACK) until the peer's delayed ACK, not the checks. A round trip crosses the broker
twice and each client once, so with mqtt.js' default sockets half of the stall is on the clients' side: the
adapter's own socket (issue 11 item 6, adapter side) needs TCP_NODELAY too; the lower half of the table shows
the broker's share with both clients on TCP_NODELAY.
`)
  }
}

main().catch((err: unknown) => { process.stderr.write(`${(err as Error).stack ?? String(err)}\n`); process.exit(1) })
