/**
 * What the response side of the hop-by-hop removal costs per response, in process: ResponseHead.parseBuf on
 * three heads (node:http's, with `Keep-Alive: timeout=5`; nginx's; a bare one), and parseBuf + compact +
 * the subarray the proxy then writes (when lines moved), beside the same parse of another build (the baseline) in the same run.
 *
 *   node dist/bench/proxy/responseHead.js
 *   BENCH_BASE_HTTP1=/path/to/main/dist/proxy/http1.js node dist/bench/proxy/responseHead.js
 *
 * Without BENCH_BASE_HTTP1 the baseline is this build's parse alone (so the column is compact's own cost).
 * BENCH_ROUNDS (default 12) rounds of BENCH_ITERATIONS (default 1e6) heads per cell, in turn; the ratios are
 * medians over the rounds of ns(ours) / ns(baseline) in the same round.
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { ResponseHead } from '../../proxy/http1.js'

interface HeadParser { parseBuf (b: Buffer, s: number, e: number, head: boolean): number }
interface Http1Module { ResponseHead: new () => HeadParser }

const HEADS: Record<string, string> = {
  'node:http (Keep-Alive line)': 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nDate: Sun, 06 Dec 2026 21:53:54 GMT\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nContent-Length: 13\r\n\r\n',
  nginx: 'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sun, 06 Dec 2026 21:53:54 GMT\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: keep-alive\r\n\r\n',
  bare: 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n'
}
const BODY = 'hello, world\n'
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 12)
const N = Number(process.env.BENCH_ITERATIONS ?? 1e6)

/** ns per head: parse (and with `compact`, compact and take the bytes to write) of a fresh copy each time. */
function time (parser: HeadParser, head: string, compact: boolean): number {
  const src = Buffer.from(head + BODY, 'latin1')
  const bufs = Array.from({ length: 256 }, () => Buffer.from(src))
  const end = head.length
  let sink = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const b = bufs[i & 255] as Buffer
    src.copy(b)
    parser.parseBuf(b, 0, end, false)
    // As the proxy writes it: the buffer itself when nothing moved, else the bytes from the head's new start.
    const from = compact ? (parser as ResponseHead).compact(b, 0) : 0
    sink += from === 0 ? b.length : b.subarray(from, b.length).length
  }
  const ns = Number(process.hrtime.bigint() - t0) / N
  if (sink === 0) throw new Error('nothing parsed')
  return ns
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] as number : ((s[m - 1] as number) + (s[m] as number)) / 2
}

async function main (): Promise<void> {
  const baseFile = process.env.BENCH_BASE_HTTP1
  const base: HeadParser = baseFile === undefined
    ? new ResponseHead()
    : new ((await import(pathToFileURL(path.resolve(baseFile)).href)) as Http1Module).ResponseHead()
  const ours = new ResponseHead()
  const baseName = baseFile === undefined ? 'this build, parse only' : `${baseFile}, parse`
  console.log(`Node ${process.version}; ${ROUNDS} rounds x ${N} heads per cell; baseline: ${baseName}`)
  console.log('| head | baseline ns | ours: parse ns | ours: parse + compact ns | parse vs baseline | parse + compact vs baseline |')
  console.log('|---|---:|---:|---:|---:|---:|')
  for (const [name, head] of Object.entries(HEADS)) {
    const b: number[] = []
    const p: number[] = []
    const c: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      b.push(time(base, head, false))
      p.push(time(ours, head, false))
      c.push(time(ours, head, true))
    }
    const ratio = (xs: number[]): string => median(xs.map((x, i) => x / (b[i] as number))).toFixed(3)
    console.log(`| ${name} | ${median(b).toFixed(0)} | ${median(p).toFixed(0)} | ${median(c).toFixed(0)} | ${ratio(p)} | ${ratio(c)} |`)
  }
}

await main()
