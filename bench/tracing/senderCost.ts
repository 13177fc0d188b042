/**
 * The knative target's HTTP sender alone (HttpEventSender, adapters/targets/httpEventSender.ts): the CPU of
 * this process per request with and without a W3C context on the event, to the bench's minimal HTTP sink
 * (bench/adapter/receiver.ts, its own process). Variants take turns in blocks, each round starting one
 * variant further on; each round's ratio is against the first variant's block in the same round.
 *
 *   node dist/bench/tracing/senderCost.js     (SENDER_ROUNDS=30 SENDER_REQUESTS=2000 SENDER_WINDOW=64)
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { HttpEventSender } from '../../adapters/targets/httpEventSender.js'
import { median, signTestInterval } from '../pairedRatio.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.SENDER_ROUNDS ?? 30)
const REQUESTS = Number(process.env.SENDER_REQUESTS ?? 2000)
const WINDOW = Number(process.env.SENDER_WINDOW ?? 64)

const base = { specversion: '1.0', id: '', source: 'iotless://bench', type: 'iotless.mqtt.message', subject: 'bench/tracing/dev-1', time: '2026-12-01T22:00:00.000Z', datacontenttype: 'application/json', iotlessattempt: '1' }
const TP = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00'
/** As the pipeline's withAttempt copies (Object.assign; a spread followed by keys is slow on Node 20). */
function withKeys (keys: Record<string, string>): Record<string, string> {
  const a: Record<string, string> = Object.assign({}, base)
  for (const k in keys) a[k] = keys[k] as string
  return a
}
const VARIANTS: Array<{ name: string; attrs: (i: number) => Record<string, string> }> = [
  { name: 'no traceparent', attrs: (i) => withKeys({ id: `id-${i}` }) },
  { name: 'traceparent', attrs: (i) => withKeys({ id: `id-${i}`, traceparent: TP }) }
]

async function main (): Promise<void> {
  const sink = fork(path.join(here, '../adapter/receiver.js'), ['sink', '0'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const [first] = await once(sink, 'message') as [{ url: string }]
  const url = new URL('/', first.url)
  const sender = new HttpEventSender({ connections: 32 })
  const data = Buffer.from('{"i":1,"t":1733000000000}')
  const block = async (v: typeof VARIANTS[number], from: number, n: number): Promise<number> => {
    let next = from
    const end = from + n
    const worker = async (): Promise<void> => {
      while (next < end) {
        const i = next++
        const r = await sender.send(url, v.attrs(i) as never, data)
        if (r.status !== 'ok') throw new Error(`request ${i}: ${JSON.stringify(r)}`)
      }
    }
    const c0 = process.cpuUsage()
    await Promise.all(Array.from({ length: WINDOW }, worker))
    const c = process.cpuUsage(c0)
    return (c.user + c.system) / n // µs per request
  }
  let offset = 0
  for (const v of VARIANTS) { await block(v, offset, 2000); offset += 2000 } // warm-up
  const perRound: number[][] = []
  for (let r = 0; r < ROUNDS; r++) {
    const row: number[] = new Array(VARIANTS.length)
    for (let k = 0; k < VARIANTS.length; k++) {
      const j = (k + r) % VARIANTS.length
      row[j] = await block(VARIANTS[j] as typeof VARIANTS[number], offset, REQUESTS)
      offset += REQUESTS
    }
    perRound.push(row)
  }
  const load = os.loadavg().map((x) => x.toFixed(2)).join(', ')
  console.log(`rounds ${ROUNDS} x ${REQUESTS} requests, window ${WINDOW}, load ${load}`)
  for (let k = 0; k < VARIANTS.length; k++) {
    const v = VARIANTS[k] as typeof VARIANTS[number]
    const us = perRound.map((row) => row[k] as number)
    const line = [`${v.name}: ${median(us).toFixed(1)} µs/request (median of rounds)`]
    if (k > 0) {
      const ratios = perRound.map((row) => (row[k] as number) / (row[0] as number))
      const ci = signTestInterval(ratios)
      const diffs = perRound.map((row) => (row[k] as number) - (row[0] as number))
      const cd = signTestInterval(diffs)
      line.push(`vs ${VARIANTS[0]?.name}: ${median(ratios).toFixed(3)} (sign-test 95% ${ci?.low.toFixed(3)} to ${ci?.high.toFixed(3)}), difference ${median(diffs).toFixed(1)} µs (${cd?.low.toFixed(1)} to ${cd?.high.toFixed(1)})`)
    }
    console.log(line.join('; '))
  }
  await sender.close()
  sink.send({ cmd: 'exit' })
}

await main()
