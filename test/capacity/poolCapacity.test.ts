import t, { type Test } from 'tap'
import { ManualClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { BoxAllocator } from '../../adapters/runtime/capacity/boxAllocator.js'
import type { CpuQuota } from '../../adapters/runtime/capacity/cpuQuota.js'
import { FunctionPlanner } from '../../adapters/runtime/capacity/functionPlanner.js'
import { ReactiveScaler } from '../../adapters/runtime/capacity/scaler.js'
import { SloScaler } from '../../adapters/runtime/capacity/sloScaler.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { fixtureFunction } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { processGone, waitFor } from '../helpers/waitFor.js'

const event = (data: unknown) => ({ headers: toBinaryHeaders({ specversion: '1.0', id: 'e', source: 't', type: 't', datacontenttype: 'application/json' }), body: Buffer.from(JSON.stringify(data)) })

class RecordingQuota implements CpuQuota {
  readonly shares = new Map<number, number>()
  add (pid: number, share: number): void { this.shares.set(pid, share) }
  set (pid: number, share: number): void { this.shares.set(pid, share) }
  remove (pid: number): void { this.shares.delete(pid) }
}

function pool (t: Test, name: string, opts: { clock: ManualClock; box?: BoxAllocator; quota?: CpuQuota; minCpuShare?: number; planner?: FunctionPlanner; maxScale?: number }) {
  const { log } = memoryLog()
  const maxScale = opts.maxScale ?? 4
  const planner = opts.planner ?? new FunctionPlanner({ name, concurrency: 1, maxScale, scaler: new ReactiveScaler(1), weight: 8, reservedInstances: 0, minCpuShare: opts.minCpuShare ?? 0.5 })
  opts.box?.add(planner)
  const p = new FunctionPool({ name, modulePath: fixtureFunction('echo'), config: {}, env: process.env, concurrency: 1, maxScale, keepAliveMs: 600_000, initTimeoutMs: 30_000, timeoutMs: 30_000, clock: opts.clock, log, planner, box: opts.box, cpuQuota: opts.quota })
  t.teardown(() => p.close())
  return p
}

t.test('overload: the busy function deflates to its share, the newcomer gets the rest', async (t) => {
  const clock = new ManualClock(1_000_000)
  const box = new BoxAllocator({ capacity: 2, clock, replanMs: 50 })
  const quota = new RecordingQuota()
  const a = pool(t, 'a', { clock, box, quota })
  const b = pool(t, 'b', { clock, box, quota })
  await Promise.all([a.invoke(event({ sleepMs: 100 })), a.invoke(event({ sleepMs: 100 }))])
  await waitFor('both of a\'s instances ready', () => a.warmInstances === 2)
  t.equal(box.overloaded, false)
  // a's two long requests hold its want at 2; then b arrives wanting 1.
  const longA = [a.invoke(event({ sleepMs: 1500 })), a.invoke(event({ sleepMs: 1500 }))]
  const bCall = b.invoke(event({ id: 'b' }))
  t.equal(box.overloaded, true, 'a wants 2 and b wants 1 on a box of 2')
  t.equal(a.planner.allocation, 1, 'equal weights: one each')
  t.equal(b.planner.allocation, 1)
  t.equal(a.cpuShare, 0.5, 'a keeps both instances, deflated to half')
  for (const pid of a.pids) t.equal(quota.shares.get(pid), 0.5, `quota of a's instance ${pid} written`)
  t.equal(b.startingInstances, 1, 'b starts its instance at once')
  await bCall
  await Promise.all(longA)
  t.equal(a.warmInstances, 2, 'deflation, not termination')
})

t.test('without deflation (minCpuShare 1) the box stops an instance instead, once it is idle', async (t) => {
  const clock = new ManualClock(1_000_000)
  const box = new BoxAllocator({ capacity: 2, clock, replanMs: 50 })
  const a = pool(t, 'a', { clock, box, minCpuShare: 1 })
  const b = pool(t, 'b', { clock, box, minCpuShare: 1 })
  await Promise.all([a.invoke(event({ sleepMs: 100 })), a.invoke(event({ sleepMs: 100 }))])
  await waitFor('both of a\'s instances ready', () => a.warmInstances === 2)
  const pids = a.pids
  const longA = [a.invoke(event({ sleepMs: 800 })), a.invoke(event({ sleepMs: 800 }))]
  const bCall = b.invoke(event({ id: 'b' }))
  t.equal(a.planner.allocation, 1)
  t.equal(a.planner.maxInstances(), 1, 'no deflation: a may keep one instance')
  t.equal(a.cpuShare, 1)
  await bCall
  await Promise.all(longA)
  await waitFor('a down to one instance', () => a.warmInstances === 1)
  await waitFor('the stopped instance to exit', () => pids.some(processGone))
  t.equal(b.warmInstances, 1)
})

t.test('the SLO sizer ticks on the injected clock and holds its count', async (t) => {
  const clock = new ManualClock(1_000_000)
  const scaler = new SloScaler({ waitMs: 100, percentile: 0.95 }, 1, 4, { periodMs: 5000, holdMs: 0, idleSecondsPerColdStart: 0, attainmentTarget: 0 })
  const planner = new FunctionPlanner({ name: 's', concurrency: 1, maxScale: 4, scaler, weight: 8, reservedInstances: 0, minCpuShare: 0.5 })
  const p = pool(t, 's', { clock, planner })
  for (let i = 0; i < 8; i++) { await p.invoke(event({ sleepMs: 50 })); clock.advance(250) }
  // 8 in 2 s at ~50 ms: the next tick sizes c >= 1 and keeps it although the keep-alive is long gone... (600 s here)
  clock.advance(5000)
  t.ok(scaler.serviceMs !== undefined, 'service time measured')
  t.ok(scaler.keep() >= 1, `c = ${scaler.keep()}`)
  t.ok(p.warmInstances >= scaler.keep(), 'the pool holds c instances')
  // Silence past the windows: c falls to 0 and the tick stops the idle instances (hold 0).
  const pids = p.pids
  clock.advance(130_000)
  t.equal(scaler.keep(), 0)
  t.equal(p.warmInstances, 0, 'reaped by the sizer, before the 600-s keep-alive')
  await waitFor('instances to exit', () => pids.every(processGone))
})

t.test('the live pool reports each served request\'s wait to its scaler (the feedback price counts it)', async (t) => {
  const clock = new ManualClock(1_000_000)
  const waits: number[] = []
  const startups: boolean[] = []
  class Spy extends ReactiveScaler { onWait (_nowMs: number, waitMs: number, startup?: boolean): void { waits.push(waitMs); startups.push(startup === true) } }
  const planner = new FunctionPlanner({ name: 'w', concurrency: 1, maxScale: 2, scaler: new Spy(1), weight: 8, reservedInstances: 0, minCpuShare: 0.5 })
  const p = pool(t, 'w', { clock, planner })
  await p.invoke(event({ sleepMs: 10 }))
  await p.invoke(event({ sleepMs: 10 }))
  t.equal(waits.length, 2, 'one report per served request')
  t.ok((waits[0] ?? 0) > (waits[1] ?? 0), `the first waited for its cold start: ${waits.map((w) => w.toFixed(1)).join(', ')} ms`)
  t.same(startups, [true, false], 'the first arrived before the pool ever had an instance ready (a start-up request), the second after')
})
