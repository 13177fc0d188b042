import { loadavg } from 'node:os'
import { guaranteeLive } from './guaranteeLive.js'

/**
 * `node dist/bench/capacity/guaranteeLiveMain.js [SECONDS]`: the guarantee held live while other functions are
 * offered 10x the box (guaranteeLive.ts), one JSON line. Its own process, so instances fork without a test runner's loaders.
 */
const seconds = Number(process.argv[2] ?? 20)
const before = loadavg()[0]
const opts = { boxInstances: 4, durationMs: seconds * 1000, hogs: 3, hogServiceMs: 200, offeredTimesBox: 10, guarantee: { ratePerSec: 5, burst: 2 }, guaranteedServiceMs: 50, guaranteedOfferedTimes: 16, waitMs: 100, seed: Number(process.argv[3] ?? 1) }
const ours = await guaranteeLive(opts)
const fifo = await guaranteeLive({ ...opts, priority: false })
process.stdout.write(JSON.stringify({ loadBefore: before, loadAfter: loadavg()[0], ours, fifo }) + '\n')
