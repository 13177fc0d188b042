/**
 * What a burst queued behind a breaker costs when every waiter watches the adapter's shared stop signal:
 * N acquires queued on a Breaker (core/breaker.ts) with one AbortSignal, then released one by one, so each is
 * granted in turn. The pipeline does exactly this with its route gate for every message a burst brings in. This
 * build's Breaker beside an earlier build's (BENCH_BEFORE: a built checkout, e.g. `git worktree add DIR <rev>`
 * and tsc there), in one process, rounds alternating which goes first; wall time of the main thread (the work is
 * synchronous apart from the promise reactions, which are awaited).
 *
 *   BENCH_BEFORE=/path/to/checkout node dist/bench/adapter/waiterCost.js   # BENCH_WAITERS (1000,5000,20000), BENCH_ROUNDS (5)
 */
import { setMaxListeners } from 'node:events'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { median } from '../pairedRatio.js'

interface BreakerLike { acquire: (s?: AbortSignal) => Promise<void>; release: () => void }
type Make = () => BreakerLike

const here = path.dirname(fileURLToPath(import.meta.url))
const WAITERS = (process.env.BENCH_WAITERS ?? '1000,5000,20000').split(',').map(Number)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)

async function load (root: string): Promise<Make> {
  const m = await import(pathToFileURL(path.join(root, 'dist', 'core', 'breaker.js')).href) as { Breaker: new (o: { capacity: number; queueDepth: number }) => BreakerLike }
  return () => new m.Breaker({ capacity: 1, queueDepth: 1_000_000 })
}

/** ms to queue n waiters and grant them all, one after another. */
async function once (make: Make, n: number): Promise<number> {
  const b = make()
  const stop = new AbortController()
  setMaxListeners(0, stop.signal)
  await b.acquire(stop.signal)
  const t0 = performance.now()
  const waits: Array<Promise<void>> = []
  for (let i = 0; i < n; i++) waits.push(b.acquire(stop.signal))
  for (let i = 0; i < n; i++) b.release()
  await Promise.all(waits)
  return performance.now() - t0
}

async function main (): Promise<void> {
  const ways: Array<{ name: string; make: Make }> = [{ name: 'this build', make: await load(path.resolve(here, '..', '..', '..')) }]
  const before = process.env.BENCH_BEFORE
  if (before !== undefined && before !== '') ways.unshift({ name: `before (${before})`, make: await load(path.resolve(before)) })
  for (const w of ways) await once(w.make, 1000) // warm-up
  console.log(`| waiters | ${ways.map((w) => `${w.name}, ms (median of ${ROUNDS})`).join(' | ')} |${ways.length === 2 ? ' this build / before, median of the rounds |' : ''}`)
  console.log(`|---:|${ways.map(() => '---:|').join('')}${ways.length === 2 ? '---:|' : ''}`)
  for (const n of WAITERS) {
    const ms: number[][] = ways.map(() => [])
    const ratios: number[] = []
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ways.map((_, i) => i) : ways.map((_, i) => ways.length - 1 - i)
      const got: number[] = []
      for (const i of order) got[i] = await once((ways[i] as { make: Make }).make, n)
      got.forEach((v, i) => (ms[i] as number[]).push(v))
      if (ways.length === 2) ratios.push((got[1] as number) / (got[0] as number))
    }
    console.log(`| ${n} | ${ms.map((m) => median(m).toFixed(1)).join(' | ')} |${ways.length === 2 ? ` ${median(ratios).toFixed(3)} |` : ''}`)
  }
}

await main()
