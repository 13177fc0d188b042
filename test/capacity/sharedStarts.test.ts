import t from 'tap'
import { SharedStarts } from '../../adapters/runtime/sim/sharedStarts.js'
import { SimClock } from '../../adapters/runtime/sim/simClock.js'
import { simulateRequests } from '../../adapters/runtime/sim/requestSim.js'
import type { RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'

function run (plan: Array<[at: number, aloneMs: number]>, cpus: number): number[] {
  const clock = new SimClock()
  const s = new SharedStarts(clock, cpus)
  const done: number[] = plan.map(() => NaN)
  plan.forEach(([at, ms], i) => { clock.setTimeout(() => { s.start(ms, () => { done[i] = clock.now() }) }, at) })
  while (clock.step()) { /* run */ }
  return done.map((x) => Math.round(x * 1000) / 1000)
}

t.test('starts share the CPUs as processes do: a later one slows those under way', async (t) => {
  t.same(run([[0, 250]], 2), [250], 'alone: its own length')
  t.same(run([[0, 250], [0, 250], [0, 250], [0, 250]], 2), [500, 500, 500, 500], '4 at once on 2 CPUs: all at 2 x 250')
  // One alone for 100 ms (150 left), then 3 more: 4 at half speed; the first ends at 100 + 300, the others have 100
  // left and go on at 2/3 speed: 150 ms more.
  t.same(run([[0, 250], [100, 250], [100, 250], [100, 250]], 2), [400, 550, 550, 550])
})

t.test('simulated: with shared starts a flood delays the function\'s first instance', async (t) => {
  const at = Array.from({ length: 20 }, (_, i) => i)
  const tr: RequestTrace = { format: 'azure2021', source: 'test', durationMs: 60_000, how: 'built in the test', functions: [{ id: 'f', arrivalsMs: Float64Array.from(at), durationsMs: new Float32Array(at.length).fill(1000) }] }
  // Without the start gate (the default since "Capacity: a start gate"), which would keep the two models apart no more.
  const o = { scaler: 'reactive' as const, coldStartMs: 250, coldStartCpus: 2, keepOutcomes: true, maxConcurrentStarts: 0 }
  const fixed = simulateRequests(tr, o)
  const shared = simulateRequests(tr, { ...o, coldStartSharing: 'processor' })
  const first = (r: ReturnType<typeof simulateRequests>): number => r.perFunction[0]?.outcome?.waitMs[0] ?? NaN
  t.equal(first(fixed), 250, 'fixed at its start: the first instance is ready after 250 ms whatever starts after it')
  t.ok(first(shared) > 1000, `shared: 20 starts on 2 CPUs delay the first to ${first(shared).toFixed(0)} ms`)
  t.equal(fixed.spawns, shared.spawns, 'the same starts')
})
