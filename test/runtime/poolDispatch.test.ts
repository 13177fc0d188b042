// The pool sends each request to the instance its dispatch strategy picks (real instance processes).
import t, { type Test } from 'tap'
import { ManualClock } from '../../core/clock.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { joinShortestQueue, type DispatchStrategy } from '../../adapters/runtime/dispatch/thresholdDispatch.js'
import { fixtureFunction } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'
import { waitFor } from '../helpers/waitFor.js'

function event (data: unknown) {
  return { headers: toBinaryHeaders({ specversion: '1.0', id: 'e1', source: 'test', type: 't', datacontenttype: 'application/json' }), body: Buffer.from(JSON.stringify(data)) }
}

async function pidsOfTwoConcurrent (t: Test, dispatch: DispatchStrategy | undefined): Promise<number[]> {
  const { log } = memoryLog()
  const pool = new FunctionPool({
    name: 'echo', modulePath: fixtureFunction('echo'), config: {}, env: process.env, concurrency: 4, maxScale: 2,
    keepAliveMs: 600_000, initTimeoutMs: 10_000, timeoutMs: 10_000, clock: new ManualClock(1_000_000), log, dispatch
  })
  t.teardown(() => pool.close())
  pool.prewarm(2)
  await waitFor('two ready instances', () => pool.warmInstances === 2)
  const replies = await Promise.all([pool.invoke(event({ sleepMs: 150 })), pool.invoke(event({ sleepMs: 150 }))])
  return replies.map((r) => (JSON.parse((r.reply as { data: Buffer }).data.toString('utf8')) as { pid: number }).pid)
}

t.test('busiest-first (the default) packs; join-shortest-queue spreads', async (t) => {
  const packed = await pidsOfTwoConcurrent(t, undefined)
  t.equal(packed[0], packed[1], 'default: both on one instance, the other stays idle')
  const spread = await pidsOfTwoConcurrent(t, joinShortestQueue)
  t.not(spread[0], spread[1], 'jsq: one on each')
})
