import t from 'tap'
import { systemClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { SpareInstances } from '../../adapters/runtime/spareInstances.js'
import { fixtureFunction } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { processGone, waitFor } from '../helpers/waitFor.js'

const event = (data: unknown) => ({ headers: toBinaryHeaders({ specversion: '1.0', id: 'e', source: 't', type: 't', datacontenttype: 'application/json' }), body: Buffer.from(JSON.stringify(data)) })

function pool (name: string, spares: SpareInstances, extra: { env?: NodeJS.ProcessEnv; memoryMb?: number } = {}): FunctionPool {
  return new FunctionPool({ name, modulePath: fixtureFunction('echo'), config: {}, env: extra.env ?? process.env, concurrency: 1, maxScale: 2, keepAliveMs: 600_000, initTimeoutMs: 30_000, timeoutMs: 30_000, clock: systemClock, log: memoryLog().log, spares, ...(extra.memoryMb === undefined ? {} : { memoryMb: extra.memoryMb }) })
}

t.test('an instance starts from a booted spare, which is then replaced; other environments and memory bounds fork', async (t) => {
  const spares = new SpareInstances({ count: 1, env: process.env, clock: systemClock, refillDelayMs: 10 })
  t.teardown(() => { spares.close() })
  const p = pool('a', spares)
  t.teardown(() => p.close())
  const res = await p.invoke(event({ hello: 1 }))
  t.ok(res.reply !== undefined, 'served')
  t.equal(p.lastStart?.fromSpare, true, 'from the spare')
  t.equal(spares.taken, 1)
  const tm = p.lastStart?.timings
  t.ok(tm !== undefined && tm.importedAt >= tm.specAt && tm.readyAt >= tm.listeningAt, 'start phases reported')
  await waitFor('the spare replaced', () => spares.available === 1 && spares.forked === 2)

  const other = pool('b', spares, { env: { ...process.env, IOTLESS_TEST_OTHER: '1' } })
  t.teardown(() => other.close())
  await other.invoke(event({}))
  t.equal(other.lastStart?.fromSpare, false, 'another environment forks its own')
  const bounded = pool('c', spares, { memoryMb: 256 })
  t.teardown(() => bounded.close())
  await bounded.invoke(event({}))
  t.equal(bounded.lastStart?.fromSpare, false, 'a memory bound is a node flag fixed at fork: forks its own')
  t.equal(spares.taken, 1)

  const pid = p.pids[0] ?? -1
  await p.close()
  await waitFor('the instance that was a spare exits with its pool', () => processGone(pid))
  spares.close()
  t.equal(spares.available, 0, 'close kills the standing spare')
})
