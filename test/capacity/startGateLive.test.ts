// The box's start gate in the live pool: real child processes (the gate's own logic: startGate.test.ts).
import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { StartGate } from '../../adapters/runtime/capacity/startGate.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { fixtureFunction } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'

const event = (): { headers: Record<string, string>; body: Buffer } => ({ headers: toBinaryHeaders({ specversion: '1.0', id: 'e', source: 'test', type: 't', datacontenttype: 'application/json' }), body: Buffer.from('{}') })
const pool = (gate: StartGate): FunctionPool => new FunctionPool({ name: 'echo', modulePath: fixtureFunction('echo'), config: {}, env: process.env, concurrency: 1, maxScale: 3, keepAliveMs: 600_000, initTimeoutMs: 20_000, timeoutMs: 20_000, clock: new ManualClock(1_000_000), log: memoryLog().log, startGate: gate })

t.test('live pool: its starts pass the box\'s gate one at a time', async (t) => {
  const gate = new StartGate(1)
  const p = pool(gate)
  t.teardown(() => p.close())
  const calls = Promise.all([p.invoke(event()), p.invoke(event()), p.invoke(event())])
  t.equal(p.startingInstances, 3, 'three starting (the planner sees them)')
  t.equal(gate.running, 1, 'one under way')
  t.equal(gate.waiting, 2, 'two waiting their turn')
  await calls
  while (p.startingInstances > 0) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(p.warmInstances, 3)
  t.equal(gate.maxRunning, 1, 'never more than one under way')
  t.equal(gate.running, 0, 'each start left the gate')
})

t.test('live pool: a start waiting at the gate is given up on close, without a process', async (t) => {
  const gate = new StartGate(1)
  gate.enter(() => {}) // another pool's start holds the only turn
  const p = pool(gate)
  const call = p.invoke(event()).then(() => 'served', () => 'refused')
  t.equal(p.startingInstances, 1)
  t.equal(gate.waiting, 1)
  await p.close()
  t.equal(await call, 'refused')
  t.equal(gate.waiting, 0, 'its turn given up')
  t.equal(p.startingInstances, 0)
  gate.leave()
  t.equal(gate.running, 0, 'nothing began after close')
})
