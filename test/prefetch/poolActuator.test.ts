import t, { type Test } from 'tap'
import { ManualClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { FunctionPlanner } from '../../adapters/runtime/capacity/functionPlanner.js'
import { ReactiveScaler } from '../../adapters/runtime/capacity/scaler.js'
import type { LiveDecision } from '../../prefetch/actuators/actuator.js'
import { PoolActuator } from '../../prefetch/actuators/poolActuator.js'
import { fixtureFunction } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { processGone, waitFor } from '../helpers/waitFor.js'

function makePool (t: Test, keepAliveMs = 1000, planner?: FunctionPlanner) {
  const clock = new ManualClock(1_000_000)
  const pool = new FunctionPool({
    planner,
    name: 'echo',
    modulePath: fixtureFunction('echo'),
    config: {},
    env: process.env,
    concurrency: 1,
    maxScale: 3,
    keepAliveMs,
    initTimeoutMs: 10_000,
    timeoutMs: 10_000,
    clock,
    log: memoryLog().log
  })
  t.teardown(() => pool.close())
  return { pool, clock, actuator: new PoolActuator([pool]) }
}

function decision (warm: number, early = false): LiveDecision {
  return { prewarmAt: 0, keepAliveUntil: warm > 0 ? Number.MAX_SAFE_INTEGER : 0, instances: Math.max(1, warm), nowMs: 0, warm, early }
}

const event = { headers: toBinaryHeaders({ specversion: '1.0', id: 'e1', source: 'test', type: 't', datacontenttype: 'application/json' }), body: Buffer.from('{"id":1}') }

t.test('a wanted instance is started ahead of traffic and kept past keep-alive; release stops it at once', async (t) => {
  const { pool, clock, actuator } = makePool(t)
  actuator.apply('echo', decision(2))
  t.equal(pool.warmFloor, 2)
  await waitFor('two pre-warmed instances', () => pool.warmInstances === 2)
  t.equal(pool.spawnCount, 2, 'started by prefetch, not by a request')
  const r = await pool.invoke(event)
  t.equal(r.coldStart, false, 'the first request finds a warm instance')
  t.equal(pool.spawnCount, 2)
  clock.advance(10_000) // ten keep-alives
  t.equal(pool.warmInstances, 2, 'the floor keeps both past keepAliveMs')
  const pids = pool.pids
  actuator.apply('echo', decision(0))
  t.equal(pool.warmFloor, 0)
  t.equal(pool.warmInstances, 0, 'release takes idle instances out of service at once')
  await waitFor('instances to exit', () => pids.every(processGone))
})

t.test('lowering the floor releases idle instances beyond it; an early pass never releases', async (t) => {
  const { pool, clock, actuator } = makePool(t)
  actuator.apply('echo', decision(3))
  await waitFor('three instances', () => pool.warmInstances === 3)
  actuator.apply('echo', decision(0, true))
  t.equal(pool.warmInstances, 3, 'early pass with nothing wanted changes nothing')
  actuator.apply('echo', decision(1))
  t.equal(pool.warmInstances, 1, 'two idle ones stopped, one kept')
  clock.advance(5000)
  t.equal(pool.warmInstances, 1, 'the kept one outlives keep-alive')
  await actuator.close()
  t.equal(pool.warmFloor, 0, 'close leaves the pool to its own keep-alive')
  clock.advance(1000)
  t.equal(pool.warmInstances, 0, 'reaped by keep-alive once the floor is gone')
})

t.test('without prefetch the floor is 0 and keep-alive reaps as before; busy instances are never released', async (t) => {
  const { pool, clock, actuator } = makePool(t, 60_000)
  const slow = pool.invoke({ ...event, body: Buffer.from('{"sleepMs":300}') })
  await waitFor('instance started by the request', () => pool.warmInstances === 1)
  actuator.apply('echo', decision(0))
  t.equal(pool.warmInstances, 1, 'a busy instance is not released')
  const r = await slow
  t.equal(r.coldStart, true)
  clock.advance(60_000)
  t.equal(pool.warmInstances, 0, 'keep-alive reaped it')
  actuator.apply('nope', decision(1))
  t.pass('a function without a pool is ignored')
})

t.test('a release leaves an instance idle for less than a start takes now; it goes once idle that long', async (t) => {
  const { pool, clock, actuator } = makePool(t, 60_000)
  actuator.apply('echo', decision(1))
  clock.advance(4000) // the start takes 4 s on the pool's clock, as on a loaded machine
  await waitFor('the pre-warmed instance', () => pool.warmInstances === 1)
  t.equal(pool.startCostMs, 4000)
  const r = await pool.invoke(event)
  t.equal(r.coldStart, false)
  actuator.apply('echo', decision(0))
  t.equal(pool.warmInstances, 1, 'used just now: stopping it would make the next request wait 4 s for a new one')
  actuator.apply('echo', decision(1))
  t.equal(pool.spawnCount, 1, 'wanted again: no restart')
  actuator.apply('echo', decision(0))
  clock.advance(3999)
  t.equal(pool.warmInstances, 1, 'idle 3999 ms: still there')
  clock.advance(1)
  t.equal(pool.warmInstances, 0, 'idle as long as a start takes: released, without waiting for keep-alive (60 s)')
  await pool.invoke(event)
  clock.advance(5000)
  actuator.apply('echo', decision(0))
  t.equal(pool.warmInstances, 0, 'idle longer than a start takes: released at once')
})

t.test('a release never stops what the pool keeps for a held reservation', async (t) => {
  const planner = new FunctionPlanner({ name: 'echo', concurrency: 1, maxScale: 3, scaler: new ReactiveScaler(1), weight: 8, reservedInstances: 1, minCpuShare: 0.5 })
  const { pool, actuator } = makePool(t, 1000, planner)
  pool.prewarm(2)
  await waitFor('two instances', () => pool.warmInstances === 2)
  actuator.apply('echo', decision(0))
  t.equal(pool.warmInstances, 1, 'the reserved instance stays, the other goes')
})
