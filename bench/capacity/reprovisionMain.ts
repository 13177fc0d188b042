import { loadavg } from 'node:os'
import { compareReprovision, median, type Reprovision } from './reprovision.js'

/**
 * `node dist/bench/capacity/reprovisionMain.js [RUNS]`: the live re-provisioning time, a new instance forked vs
 * started from a spare process, interleaved; medians and max with where the start went. Run as its own process so
 * the instances are forked without a test runner's loaders.
 */
const runs = Number(process.argv[2] ?? 5)
const before = loadavg()[0] ?? 0
const { fork, spare } = await compareReprovision(runs)
const sum = (xs: Reprovision[]): Record<string, number | string> => {
  const phase = (k: keyof NonNullable<Reprovision['phases']>): number => median(xs.map((x) => x.phases?.[k] ?? NaN).filter(Number.isFinite))
  return {
    runs: xs.length,
    fromSpare: xs.filter((x) => x.fromSpare).length,
    allocationMsMedian: median(xs.map((x) => x.allocationMs)),
    readyMsMedian: median(xs.map((x) => x.instanceReadyMs)),
    readyMsMax: Math.max(...xs.map((x) => x.instanceReadyMs)),
    exec: phase('exec'),
    boot: phase('boot'),
    spec: phase('spec'),
    import: phase('import'),
    listen: phase('listen'),
    readyMessage: phase('readyMessage')
  }
}
process.stdout.write(JSON.stringify({ loadBefore: before, loadAfter: loadavg()[0], fork: sum(fork), spare: sum(spare), raw: { fork, spare } }) + '\n')
