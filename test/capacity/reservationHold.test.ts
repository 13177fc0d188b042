import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { BoxAllocator } from '../../adapters/runtime/capacity/boxAllocator.js'
import { FunctionPlanner } from '../../adapters/runtime/capacity/functionPlanner.js'
import { GuaranteeGate } from '../../adapters/runtime/capacity/guaranteeGate.js'
import { ReactiveScaler } from '../../adapters/runtime/capacity/scaler.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { fixtureFunction } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { processGone, waitFor } from '../helpers/waitFor.js'

t.test('pre-invocation lets a guarantee\'s reservation go (the box and the instance free) and holds it again', async (t) => {
  const clock = new ManualClock(1_000_000)
  const box = new BoxAllocator({ capacity: 2, clock, replanMs: 50 })
  const planner = new FunctionPlanner({ name: 'g', concurrency: 1, maxScale: 2, scaler: new ReactiveScaler(1), weight: 8, reservedInstances: 1, minCpuShare: 0.5 })
  box.add(planner)
  const g = new FunctionPool({ name: 'g', modulePath: fixtureFunction('echo'), config: {}, env: process.env, concurrency: 1, maxScale: 2, keepAliveMs: 600_000, initTimeoutMs: 30_000, timeoutMs: 30_000, clock, log: memoryLog().log, planner, box, gate: new GuaranteeGate({ ratePerSec: 1, burst: 1 }) })
  t.teardown(() => g.close())
  t.equal(box.totalWanted, 1, 'the box knows the reservation before any request')
  g.prewarm(1)
  await waitFor('the reserved instance ready', () => g.warmInstances === 1)
  const pid = g.pids[0] ?? -1
  g.holdReservation(false)
  t.equal(box.totalWanted, 0, 'let go: the box may give it to others')
  t.equal(g.releaseIdle(), 1, 'the idle instance stops')
  await waitFor('its process gone', () => processGone(pid))
  g.holdReservation(true)
  t.equal(box.totalWanted, 1)
  t.equal(g.startingInstances + g.warmInstances, 1, 'held again: its instance starts at once')
  await waitFor('ready again', () => g.warmInstances === 1)
})
