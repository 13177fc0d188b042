import t from 'tap'
import { StartGate } from '../../adapters/runtime/capacity/startGate.js'
import { simulateRequests } from '../../adapters/runtime/sim/requestSim.js'
import type { RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'

t.test('the gate: at most limit under way, the rest FIFO, cancel gives a waiting turn up', async (t) => {
  const g = new StartGate(2)
  const begun: number[] = []
  const cancels = [0, 1, 2, 3, 4].map((i) => g.enter(() => { begun.push(i) }))
  t.same(begun, [0, 1], 'two begin at once')
  t.equal(g.running, 2)
  t.equal(g.waiting, 3)
  t.equal(cancels[3]?.(), true, 'a waiting turn can be given up')
  t.equal(cancels[0]?.(), false, 'a begun one cannot')
  g.leave()
  t.same(begun, [0, 1, 2], 'the first waiting begins when one ends')
  g.leave()
  t.same(begun, [0, 1, 2, 4], 'the cancelled turn is skipped')
  g.leave(); g.leave()
  t.equal(g.running, 0)
  t.equal(g.maxRunning, 2)
  t.throws(() => { g.leave() }, 'leave without a start under way')
  const none = new StartGate(0)
  let n = 0
  for (let i = 0; i < 5; i++) none.enter(() => { n++ })
  t.equal(n, 5, 'limit 0: no gate')
  t.throws(() => new StartGate(-1))
  t.throws(() => new StartGate(1.5))
})

const flood = (n: number): RequestTrace => ({ format: 'azure2021', source: 'test', durationMs: 60_000, how: 'built in the test', functions: [{ id: 'f', arrivalsMs: new Float64Array(n).fill(0), durationsMs: new Float32Array(n).fill(10_000) }] })
const waits = (r: ReturnType<typeof simulateRequests>): number[] => Array.from(r.perFunction[0]?.outcome?.waitMs ?? []).map((x) => Math.round(x)).sort((a, b) => a - b)

t.test('simulated: behind a gate of cpus a flood\'s first instances take a start alone, in both sharing models', async (t) => {
  const o = { scaler: 'reactive' as const, coldStartMs: 250, coldStartCpus: 2, keepOutcomes: true, maxScale: 8 }
  const tr = flood(8)
  t.same(waits(simulateRequests(tr, { ...o, coldStartSharing: 'processor', maxConcurrentStarts: 0 })), [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000], 'processor, no gate: all 8 at 8 x 250 / 2')
  t.same(waits(simulateRequests(tr, { ...o, coldStartSharing: 'processor', maxConcurrentStarts: 2 })), [250, 250, 500, 500, 750, 750, 1000, 1000], 'processor, gate 2: two at a time, each a start alone')
  t.same(waits(simulateRequests(tr, { ...o, maxConcurrentStarts: 0 })), [250, 250, 375, 500, 625, 750, 875, 1000], 'atStart, no gate: the k-th takes 250 x k / 2')
  t.same(waits(simulateRequests(tr, { ...o, maxConcurrentStarts: 2 })), [250, 250, 500, 500, 750, 750, 1000, 1000], 'atStart, gate 2: the same as processor behind the gate')
  t.same(waits(simulateRequests(tr, { ...o, coldStartSharing: 'processor' })), [250, 250, 500, 500, 750, 750, 1000, 1000], 'the default: a gate of coldStartCpus (2)')
  t.same(waits(simulateRequests(tr, { ...o, coldStartCpus: 4 })), [250, 250, 250, 250, 500, 500, 500, 500], 'the default follows coldStartCpus (4)')
  const g1 = simulateRequests(tr, { ...o, coldStartSharing: 'processor', maxConcurrentStarts: 1 })
  t.same(waits(g1), [250, 500, 750, 1000, 1250, 1500, 1750, 2000], 'gate 1: one at a time')
  t.equal(g1.spawns, 8, 'the same starts: the gate delays them, it does not drop them')
  // Instance-seconds: a start waiting at the gate has no process. 8 x 10 s of service + the starts under way.
  const none = simulateRequests(tr, { ...o, coldStartSharing: 'processor', keepAliveMs: 1, maxConcurrentStarts: 0 })
  const gated = simulateRequests(tr, { ...o, coldStartSharing: 'processor', keepAliveMs: 1, maxConcurrentStarts: 1 })
  t.ok(gated.instanceSeconds < none.instanceSeconds, `waiting at the gate costs no instance-seconds (${gated.instanceSeconds.toFixed(2)} vs ${none.instanceSeconds.toFixed(2)})`)
})

t.test('urgent starts (a guaranteed function\'s) go ahead of every waiting ordinary one, FIFO among themselves', async (t) => {
  const g = new StartGate(1)
  const begun: string[] = []
  g.enter(() => { begun.push('a') })
  g.enter(() => { begun.push('b') })
  g.enter(() => { begun.push('c') })
  g.enter(() => { begun.push('G1') }, true)
  const cancelG2 = g.enter(() => { begun.push('G2') }, true)
  g.enter(() => { begun.push('G3') }, true)
  t.equal(g.waiting, 5)
  t.equal(cancelG2(), true)
  g.leave()
  t.same(begun, ['a', 'G1'], 'the urgent turn goes before b and c, which came first')
  g.leave()
  t.same(begun, ['a', 'G1', 'G3'], 'a cancelled urgent turn is skipped')
  g.leave()
  g.leave()
  t.same(begun, ['a', 'G1', 'G3', 'b', 'c'], 'then the ordinary ones, in order')
  g.enter(() => { begun.push('d') })
  t.same(begun.at(-1), 'c', 'an ordinary start waits while the gate is full')
  g.leave()
  t.same(begun.at(-1), 'd')
  const open = new StartGate(2)
  open.enter(() => { begun.push('x') })
  open.enter(() => { begun.push('U') }, true)
  t.same(begun.slice(-2), ['x', 'U'], 'with room, an urgent start begins at once')
})
