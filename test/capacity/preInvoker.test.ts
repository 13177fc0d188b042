import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { PeriodicPredictor } from '../../adapters/runtime/capacity/periodicPredictor.js'
import { PreInvoker, type PreInvokeTarget } from '../../adapters/runtime/capacity/preInvoker.js'
import { runPreInvokeModel } from '../../bench/capacity/preInvokeModel.js'

t.test('the predictor finds a period to the millisecond, tolerates a lost reading, and refuses irregular arrivals', async (t) => {
  const p = new PeriodicPredictor()
  const at = [0, 60_010, 119_990, 180_000, 240_005]
  for (const x of at) p.observe('dev', x, 1)
  p.observe('dev', 240_300, 1) // same burst: ignored
  const per = p.period('dev')
  t.ok(per !== undefined && Math.abs(per.periodMs - 60_000) <= 10, `period ${per?.periodMs} ms`)
  t.ok(per !== undefined && per.jitterMs <= 30, `jitter ${per?.jitterMs} ms`)
  const w = p.nextWindow('dev', 240_005)
  t.ok(w !== undefined && Math.abs(w.fromMs - 300_000) < 50 && w.toMs - w.fromMs <= 60, 'next window around 300 s')
  t.ok(p.nextWindow('dev', 310_000)?.fromMs !== undefined && (p.nextWindow('dev', 310_000)?.fromMs ?? 0) > 350_000, 'a period passed without arrival: the one after')
  t.equal(p.forecast('dev', 3_600_000)?.source, 'periodic', 'the prefetch Predictor contract')
  t.equal(p.forecast('dev', 30_000), undefined, 'beyond the horizon')
  p.observe('dev', 360_000, 1) // one reading lost: a double gap
  t.ok(p.period('dev') !== undefined, 'a lost reading keeps it periodic')
  const q = new PeriodicPredictor()
  for (const x of [0, 10_000, 70_000, 75_000, 200_000, 203_000]) q.observe('irr', x, 1)
  t.equal(q.period('irr'), undefined, 'irregular: not periodic')
  t.equal(q.period('none'), undefined)
  const few = new PeriodicPredictor()
  for (const x of [0, 60_000, 120_000]) few.observe('f', x, 1)
  t.equal(few.period('f'), undefined, 'fewer than minSamples gaps')
})

class Recorder implements PreInvokeTarget {
  readonly name = 'dev'
  warmInstances = 0
  readonly log: string[] = []
  constructor (readonly clock: ManualClock) {}
  setWarmFloor (n: number): void { this.log.push(`${this.clock.now()} floor ${n}`); if (n > 0) this.warmInstances = 1 }
  releaseIdle (): number { this.log.push(`${this.clock.now()} release`); this.warmInstances = 0; return 1 }
  holdReservation (held: boolean): void { this.log.push(`${this.clock.now()} reservation ${held ? 'held' : 'let go'}`) }
}

t.test('pre-invoker: lets the reservation go after a burst and warms leadMs before the next', async (t) => {
  const clock = new ManualClock(0)
  const target = new Recorder(clock)
  const pre = new PreInvoker({ target, predictor: new PeriodicPredictor(), clock, leadMs: 2000, graceMs: 1000 })
  t.teardown(() => { pre.close() })
  for (let k = 0; k < 4; k++) { clock.advance(k * 60_000 - clock.now()); pre.arrived(clock.now()) }
  t.equal(pre.state, 'fallback', 'learning (3 gaps): as without pre-invocation')
  t.same(target.log, [], 'nothing changed while learning')
  clock.advance(240_000 - clock.now())
  target.warmInstances = 1
  pre.arrived(clock.now())
  t.equal(pre.state, 'fallback', 'the 4th gap makes it periodic; this burst is still served as before')
  clock.advance(1999)
  t.equal(pre.state, 'fallback')
  clock.advance(1) // the burst's end (1000) + grace (1000)
  t.equal(pre.state, 'released', 'let go after the burst')
  t.ok(target.log.includes('242000 reservation let go') && target.log.includes('242000 release'), target.log.join('; '))
  t.equal(pre.holding, false)
  clock.advance(298_000 - clock.now() - 1)
  t.equal(pre.state, 'released')
  clock.advance(1)
  t.equal(pre.state, 'warm', 'warm leadMs before the expected arrival at 300 s')
  t.ok(target.log.includes('298000 floor 1') && target.log.includes('298000 reservation held'))
  clock.advance(2000)
  pre.arrived(clock.now())
  t.equal(pre.hits, 1, 'the arrival found the instance ready')
  clock.advance(2000)
  t.equal(pre.state, 'released', 'let go again')
  target.warmInstances = 0
  clock.advance(358_000 - clock.now())
  t.equal(pre.state, 'warm')
  target.warmInstances = 1
  clock.advance(360_000 - clock.now())
  pre.arrived(clock.now())
  t.equal(pre.hits, 2)
  // The next one does not come: counted as missed, and the one after is planned.
  clock.advance(419_000 - clock.now())
  t.equal(pre.state, 'warm')
  clock.advance(3000)
  t.equal(pre.missed, 1, 'the burst at 420 s did not come')
  // An arrival off period: back to holding, as without pre-invocation.
  clock.advance(450_000 - clock.now())
  pre.arrived(clock.now())
  t.equal(pre.state, 'fallback')
})

t.test('pre-invoker: bursts closer than lead + grace keep the instance warm throughout', async (t) => {
  const clock = new ManualClock(0)
  const target = new Recorder(clock)
  const pre = new PreInvoker({ target, predictor: new PeriodicPredictor({ burstMs: 100 }), clock, leadMs: 2000, graceMs: 1000 })
  t.teardown(() => { pre.close() })
  for (let k = 0; k < 10; k++) { clock.advance(k * 2500 - clock.now()); pre.arrived(clock.now()) }
  t.equal(pre.releases, 0, 'never let go')
  t.equal(pre.holding, true)
})

t.test('model on a periodic trace: pre-invocation holds a fraction of the reserved instance-seconds with no cold start once learned', async (t) => {
  const arrivals: number[] = []
  for (let k = 0; k < 200; k++) arrivals.push(k * 60_000 + ((k * 7919) % 31) - 15)
  const base = { coldStartMs: 500, serviceMs: 50, keepAliveMs: 10_000, leadMs: 2000, graceMs: 1000, waitMs: 100 }
  const reserved = runPreInvokeModel(arrivals, { ...base, mode: 'reserved' })
  const pre = runPreInvokeModel(arrivals, { ...base, mode: 'preinvoke' })
  const reactive = runPreInvokeModel(arrivals, { ...base, mode: 'reactive' })
  t.equal(reserved.coldStarts, 0)
  t.equal(pre.coldStarts, 0, 'every reading found a warm instance')
  t.equal(pre.withinSlo, 200)
  t.ok(pre.instanceSeconds < reserved.instanceSeconds / 10, `instance-seconds ${pre.instanceSeconds.toFixed(0)} vs reserved ${reserved.instanceSeconds.toFixed(0)}`)
  t.equal(reactive.coldStarts, 200, 'a 10-s keep-alive: every reading is a cold start')
  t.ok(pre.hits >= 190)
})
