// Group commit in the dedup window: records and lookups asked for in one turn go to the store as one call.
import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { DedupWindow } from '../../adapters/ingress/dedupWindow.js'
import { batchAttributes } from '../../adapters/ingress/batchReply.js'
import type { DedupStore } from '../../effects/effectStore.js'
import { MemoryDedupStore } from '../../effects/memoryStores.js'
import { memoryLog } from '../helpers/silentLog.js'

function counting (): DedupStore & { records: string[][]; seens: string[][] } {
  const inner = new MemoryDedupStore({ maxAgeMs: 60_000, maxEntries: 1000 })
  const records: string[][] = []
  const seens: string[][] = []
  return {
    records,
    seens,
    seen: async (ids, now) => { seens.push([...ids]); return await inner.seen(ids, now) },
    record: async (ids, now) => { records.push([...ids]); await inner.record(ids, now) },
    size: (now) => inner.size(now),
    close: () => inner.close()
  }
}

t.test('100 records asked for together are one store call; those asked for during it, the next one', async (t) => {
  const store = counting()
  const w = new DedupWindow({ store, clock: new ManualClock(), log: memoryLog().log, stopping: new AbortController().signal })
  const first = Array.from({ length: 100 }, (_, i) => w.record(`k${i}`))
  await new Promise((resolve) => setImmediate(resolve))
  const second = Array.from({ length: 50 }, (_, i) => w.record(`j${i}`))
  await Promise.all([...first, ...second])
  t.same(store.records.map((r) => r.length), [100, 50], 'two commits for 150 records')
  const found = await Promise.all([w.seen('k3'), w.seen('j49'), w.seen('nope')])
  t.same(found, [true, true, false])
  t.equal(store.seens.length, 1, 'three lookups, one call')
})

t.test('a batch sent as one CloudEvent has an id derived from its events\' ids', async (t) => {
  const ev = (id: string) => ({ attributes: { specversion: '1.0', id, source: 's', type: 't' }, data: Buffer.alloc(0) })
  t.equal(batchAttributes([ev('a'), ev('b')], 's').id, batchAttributes([ev('a'), ev('b')], 's').id)
  t.not(batchAttributes([ev('a'), ev('b')], 's').id, batchAttributes([ev('a'), ev('c')], 's').id)
})
