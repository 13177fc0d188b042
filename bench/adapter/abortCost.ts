/**
 * What a dispatch's abort signal costs with many requests in flight: the way HttpEventSender did it before
 * (the adapter's shared stop signal handed to undici per request, which adds and removes one listener on it;
 * with a deadline, AbortSignal.timeout and AbortSignal.any per request) beside RequestAborts
 * (adapters/targets/requestAborts.ts), in one process, rounds alternating, paired per round.
 *
 *   node dist/bench/adapter/abortCost.js        # BENCH_IN_FLIGHT (500), BENCH_REQUESTS (100000), BENCH_ROUNDS (7)
 *
 * Each simulated request does what undici does with the signal it is given (one 'abort' listener added with
 * { once: true }, removed when the request ends); requests end in the order they began, BENCH_IN_FLIGHT of them
 * open at a time; the event loop turns every 100 requests (timers and finalizers run as in an adapter).
 * CPU is this process's (user + system) over the round.
 */
import { setMaxListeners } from 'node:events'
import { RequestAborts } from '../../adapters/targets/requestAborts.js'
import { median, signTestInterval } from '../pairedRatio.js'

const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 500)
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 100_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const TIMEOUT_MS = 60_000

interface Signalish { addEventListener: (t: string, f: () => void, o?: { once: boolean }) => void; removeEventListener: (t: string, f: () => void) => void }
/** One request's signal: what undici is given, and what runs when the request ends. */
type Open = (stop: AbortSignal) => { signal: Signalish; end: () => void }

const WAYS: Array<{ name: string; open: () => Open }> = [
  { name: 'before: the shared stop signal per request', open: () => (stop) => ({ signal: stop, end: () => {} }) },
  { name: 'now: RequestAborts, no deadline', open: () => { const a = new RequestAborts(undefined); return (stop) => { const s = a.open(stop); return { signal: s, end: () => { a.close(s) } } } } },
  { name: `before: AbortSignal.timeout(${TIMEOUT_MS}) + AbortSignal.any per request`, open: () => (stop) => ({ signal: AbortSignal.any([stop, AbortSignal.timeout(TIMEOUT_MS)]), end: () => {} }) },
  { name: `now: RequestAborts, ${TIMEOUT_MS} ms deadline`, open: () => { const a = new RequestAborts(TIMEOUT_MS); return (stop) => { const s = a.open(stop); return { signal: s, end: () => { a.close(s) } } } } },
  // The OpenWhisk target (needle takes only a real AbortSignal): before, as the row two above; now an AbortController per request that RequestAborts aborts.
  { name: `before (OpenWhisk): AbortSignal.timeout(${TIMEOUT_MS}) + AbortSignal.any per request`, open: () => (stop) => ({ signal: AbortSignal.any([stop, AbortSignal.timeout(TIMEOUT_MS)]), end: () => {} }) },
  {
    name: `now (OpenWhisk): an AbortController per request, RequestAborts with a ${TIMEOUT_MS} ms deadline`,
    open: () => {
      const a = new RequestAborts(TIMEOUT_MS)
      return (stop) => {
        const s = a.open(stop)
        const c = new AbortController()
        s.addEventListener('abort', () => { c.abort(s.reason) })
        return { signal: c.signal, end: () => { a.close(s) } }
      }
    }
  }
]

async function round (open: Open): Promise<number> {
  const stop = new AbortController()
  setMaxListeners(0, stop.signal)
  const live: Array<{ signal: Signalish; end: () => void; f: () => void }> = []
  const t0 = process.cpuUsage()
  for (let i = 0; i < REQUESTS; i++) {
    const r = open(stop.signal)
    const f = (): void => {}
    r.signal.addEventListener('abort', f, { once: true })
    live.push({ ...r, f })
    if (live.length > IN_FLIGHT) {
      const old = live.shift() as { signal: Signalish; end: () => void; f: () => void }
      old.signal.removeEventListener('abort', old.f)
      old.end()
    }
    if (i % 100 === 99) await new Promise((resolve) => setImmediate(resolve))
  }
  const cpu = process.cpuUsage(t0)
  for (const r of live) { r.signal.removeEventListener('abort', r.f); r.end() }
  return (cpu.user + cpu.system) * 1000 / REQUESTS
}

async function main (): Promise<void> {
  const ns: number[][] = WAYS.map(() => [])
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order each round, so neither way always runs first (after the other's garbage).
    const order = WAYS.map((_, k) => k)
    if (r % 2 === 1) order.reverse()
    for (const k of order) (ns[k] as number[]).push(await round((WAYS[k] as (typeof WAYS)[number]).open()))
  }
  console.log(`abort signals, ${IN_FLIGHT} requests in flight, ${REQUESTS} requests a round, ${ROUNDS} rounds; CPU ns per request (median of rounds), and now / before paired per round`)
  console.log('| way | CPU ns per request | now / before, median (95% sign-test interval) |')
  console.log('| --- | ---: | --- |')
  for (let k = 0; k < WAYS.length; k++) {
    const xs = ns[k] as number[]
    let paired = ''
    if (k % 2 === 1) {
      const before = ns[k - 1] as number[]
      const ratios = xs.map((x, r) => x / (before[r] as number))
      const ci = signTestInterval(ratios)
      paired = `${median(ratios).toFixed(3)} (${ci === undefined ? 'too few rounds' : `${ci.low.toFixed(3)} to ${ci.high.toFixed(3)}`})`
    }
    console.log(`| ${(WAYS[k] as (typeof WAYS)[number]).name} | ${median(xs).toFixed(0)} | ${paired} |`)
  }
}

await main()
