import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { ArrivalRecordingTarget } from '../../prefetch/live/arrivalRecordingTarget.js'
import { PlacementTarget } from '../../adapters/placement/placementTarget.js'
import type { DispatchResult, OutgoingEvent, Target, TargetLoad } from '../../adapters/target.js'

function inner (load?: () => TargetLoad): Target {
  const target: Target = { kind: 'local', dispatch: async (): Promise<DispatchResult> => ({ status: 'ok' }), close: async () => {} }
  if (load !== undefined) target.load = load
  return target
}

t.test('the recording wrapper passes on the wrapped target\'s load, and has none when it has none', async (t) => {
  let inFlight = 2
  const rec = new ArrivalRecordingTarget(inner(() => ({ inFlight, queued: 1, warmInstances: 1 })), () => {})
  t.same(rec.load?.('f'), { inFlight: 2, queued: 1, warmInstances: 1 })
  inFlight = 0
  t.same(rec.load?.('f'), { inFlight: 0, queued: 1, warmInstances: 1 }, 'read live, not copied once')
  t.equal(new ArrivalRecordingTarget(inner(), () => {}).load, undefined)
})

t.test('with prefetch on, placement still knows the local pool\'s cold starts exactly', async (t) => {
  let warm = 0
  const recorded: string[] = []
  const rec = new ArrivalRecordingTarget(inner(() => ({ inFlight: 0, queued: 0, warmInstances: warm })), (fn) => recorded.push(fn))
  const p = new PlacementTarget({ label: 'r', tiers: [{ name: 'local', target: rec, slots: 2, perInstance: 1 }], mode: 'fastest', explore: 0, clock: new ManualClock(), random: () => 0.5 })
  const pred = p.predictor('f', 0)
  for (let i = 0; i < 5; i++) pred.observe({ bytes: 1, totalMs: 5, queuedAhead: 0 })
  pred.observe({ bytes: 1, totalMs: 305, coldStart: true, queuedAhead: 0 })
  t.equal(p.decide('f', 1).predictions[0], 305, 'no warm instance: a cold start is certain')
  warm = 1
  t.equal(p.decide('f', 1).predictions[0], 5, 'a warm instance with a free slot: none')
  const ev: OutgoingEvent = { attributes: { specversion: '1.0', id: '1', source: 's', type: 't' }, data: Buffer.alloc(1) }
  t.equal((await p.dispatch('f', ev)).status, 'ok')
  t.same(recorded, ['f'], 'arrivals are still recorded')
})
