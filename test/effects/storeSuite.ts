import type { Test } from 'tap'
import type { DedupLimits, DedupStore, EffectStore, EffectStoreOptions } from '../../effects/effectStore.js'

/**
 * The abstract suites every backend runs (MQTT.js's test/node/abstract_store.ts habit): same calls, same answers.
 * `open` gives a fresh, empty store; `reopen` (durable backends) a second handle on the same data.
 */
export interface DedupFixture {
  open (limits: DedupLimits): Promise<DedupStore>
  reopen?: (limits: DedupLimits) => Promise<DedupStore>
}

export function dedupSuite (t: Test, name: string, fx: DedupFixture): void {
  const limits = { maxAgeMs: 60_000, maxEntries: 1000 }

  t.test(`${name} dedup: a recorded id is seen, others are not`, async (t) => {
    const s = await fx.open(limits)
    t.teardown(() => s.close())
    t.same([...await s.seen(['a', 'b'], 1000)], [])
    await s.record(['a', 'c'], 1000)
    t.same([...await s.seen(['a', 'b', 'c'], 1001)].sort(), ['a', 'c'])
    t.equal(await s.size(1001), 2)
  })

  t.test(`${name} dedup: entries older than maxAgeMs are forgotten`, async (t) => {
    const s = await fx.open(limits)
    t.teardown(() => s.close())
    await s.record(['old'], 0)
    await s.record(['new'], 30_000)
    t.same([...await s.seen(['old', 'new'], 60_000)].sort(), ['new', 'old'], 'at exactly maxAgeMs it is still held')
    t.same([...await s.seen(['old', 'new'], 60_001)], ['new'])
    t.equal(await s.size(60_001), 1)
  })

  t.test(`${name} dedup: past maxEntries the oldest go first`, async (t) => {
    const s = await fx.open({ maxAgeMs: 60_000, maxEntries: 3 })
    t.teardown(() => s.close())
    for (let i = 0; i < 5; i++) await s.record([`id${i}`], 100 + i)
    t.same([...await s.seen(['id0', 'id1', 'id2', 'id3', 'id4'], 200)].sort(), ['id2', 'id3', 'id4'])
    t.equal(await s.size(200), 3)
  })

  t.test(`${name} dedup: many ids in one call`, async (t) => {
    const s = await fx.open({ maxAgeMs: 60_000, maxEntries: 10_000 })
    t.teardown(() => s.close())
    const ids = Array.from({ length: 1200 }, (_, i) => `m-${i}`)
    await s.record(ids.filter((_, i) => i % 2 === 0), 5)
    const seen = await s.seen(ids, 6)
    t.equal(seen.size, 600)
    t.ok(seen.has('m-1198') && !seen.has('m-1199'))
  })

  const reopen = fx.reopen
  if (reopen !== undefined) {
    t.test(`${name} dedup: what was recorded survives a reopen`, async (t) => {
      const s = await fx.open(limits)
      await s.record(['kept-1', 'kept-2'], 10)
      await s.close()
      const again = await reopen(limits)
      t.teardown(() => again.close())
      t.same([...await again.seen(['kept-1', 'kept-2', 'never'], 20)].sort(), ['kept-1', 'kept-2'])
    })
  }
}

export interface EffectFixture {
  open (opts?: EffectStoreOptions): Promise<EffectStore>
  /** A second, independent handle (another connection or process's view) on the same data. */
  second?: () => Promise<EffectStore>
}

export function effectSuite (t: Test, name: string, fx: EffectFixture): void {
  t.test(`${name} once: runs once, then replays the logged result`, async (t) => {
    const s = await fx.open()
    t.teardown(() => s.close())
    let runs = 0
    const first = await s.once('ev-1', 'charge', async (tx) => { runs++; return await tx.incr('total', 5) })
    const again = await s.once('ev-1', 'charge', async (tx) => { runs++; return await tx.incr('total', 5) })
    t.same(first, { value: 5, replayed: false })
    t.same(again, { value: 5, replayed: true })
    t.equal(runs, 1)
    t.equal(await s.get('total'), 5)
    const other = await s.once('ev-2', 'charge', (tx) => tx.incr('total', 5))
    t.same(other, { value: 10, replayed: false }, 'another event runs')
    const otherKey = await s.once('ev-1', 'notify', () => 'sent')
    t.same(otherKey, { value: 'sent', replayed: false }, 'another key of the same event runs')
  })

  t.test(`${name} once: undefined, null and objects replay as they were`, async (t) => {
    const s = await fx.open()
    t.teardown(() => s.close())
    await s.once('e', 'u', () => undefined)
    await s.once('e', 'n', () => null)
    await s.once('e', 'o', () => ({ a: [1, 'x', true], b: null }))
    t.same(await s.once('e', 'u', () => 'no'), { value: undefined, replayed: true })
    t.same(await s.once('e', 'n', () => 'no'), { value: null, replayed: true })
    t.same(await s.once('e', 'o', () => 'no'), { value: { a: [1, 'x', true], b: null }, replayed: true })
  })

  t.test(`${name} once: a function that throws writes nothing and logs nothing`, async (t) => {
    const s = await fx.open()
    t.teardown(() => s.close())
    await t.rejects(s.once('ev-x', 'k', async (tx) => { tx.put('partial', 1); throw new Error('boom') }), /boom/)
    t.equal(await s.get('partial'), undefined)
    t.same(await s.once('ev-x', 'k', (tx) => { tx.put('partial', 2); return 'ok' }), { value: 'ok', replayed: false })
    t.equal(await s.get('partial'), 2)
  })

  t.test(`${name} once: 40 concurrent events on one counter, each counted exactly once`, async (t) => {
    const s = await fx.open()
    t.teardown(() => s.close())
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => s.once(`c-${i}`, 'count', (tx) => tx.incr('readings'))))
    t.equal(await s.get('readings'), 40)
    t.same(results.map((r) => r.value).sort((a, b) => a - b), Array.from({ length: 40 }, (_, i) => i + 1), 'every commit saw a distinct total')
  })

  t.test(`${name} once: 10 racing executions of the same event commit once and agree`, async (t) => {
    const s = await fx.open()
    t.teardown(() => s.close())
    const results = await Promise.all(Array.from({ length: 10 }, () => s.once('dup', 'count', (tx) => tx.incr('dupCount'))))
    t.equal(await s.get('dupCount'), 1)
    t.equal(results.filter((r) => !r.replayed).length, 1, 'exactly one execution committed')
    t.ok(results.every((r) => r.value === 1), 'the others replay its result')
  })

  t.test(`${name} transaction: reads its own writes, delete, and type errors`, async (t) => {
    const s = await fx.open()
    t.teardown(() => s.close())
    await s.transaction(async (tx) => {
      tx.put('profile', { name: 'node-20' })
      t.same(await tx.get('profile'), { name: 'node-20' })
      tx.put('flag', true)
    })
    t.same(await s.get('profile'), { name: 'node-20' })
    await s.transaction((tx) => { tx.delete('flag') })
    t.equal(await s.get('flag'), undefined)
    await t.rejects(s.transaction((tx) => tx.incr('profile')), /holds a object, not a number/)
    await t.rejects(s.transaction((tx) => tx.get('')), TypeError)
  })

  t.test(`${name} once: the log is pruned by age; a pruned (event, key) runs again, a young one still replays`, async (t) => {
    let now = 1_000_000
    const s = await fx.open({ logMaxAgeMs: 60_000, pruneEveryMs: 3_600_000, now: () => now })
    t.teardown(() => s.close())
    await s.once('old', 'count', (tx) => tx.incr('pruned'))
    now += 30_000
    await s.once('young', 'count', (tx) => tx.incr('pruned'))
    now += 30_000
    t.equal(await s.pruneLog(), 0, 'at exactly logMaxAgeMs an entry is kept')
    now += 1
    t.equal(await s.pruneLog(), 1, 'one entry is past logMaxAgeMs')
    t.same(await s.once('young', 'count', (tx) => tx.incr('pruned')), { value: 2, replayed: true })
    t.same(await s.once('old', 'count', (tx) => tx.incr('pruned')), { value: 3, replayed: false }, 'forgotten: it runs again')
    t.equal(await s.get('pruned'), 3, 'the state itself is never pruned')
    t.equal(await s.pruneLog(now + 120_000), 2, 'an explicit time prunes up to it')
  })

  t.test(`${name} once: a once() that logs prunes on its own, at most once per pruneEveryMs`, async (t) => {
    let now = 5_000_000
    const s = await fx.open({ logMaxAgeMs: 60_000, pruneEveryMs: 10_000, now: () => now })
    t.teardown(() => s.close())
    await s.once('a', 'k', () => 'a') // at 5,000 s
    now += 61_000
    await s.once('b', 'k', () => 'b') // 61 s after the store opened: a prune is due, and 'a' is past its age
    t.same(await s.once('a', 'k', () => 'a-again'), { value: 'a-again', replayed: false }, 'pruned by the once() of b')
    now += 9_000
    await s.once('x', 'k', () => 'x') // at 5,070 s; 9 s after the last prune: none
    now += 52_000
    await s.once('c', 'k', () => 'c') // at 5,122 s: prunes what is older than 5,062 s ('b', 'a-again'), keeps 'x'
    now += 9_000
    await s.once('d', 'k', () => 'd') // at 5,131 s: 'x' is 61 s old, but a prune is not due for another second
    t.same(await s.once('x', 'k', () => 'x-again'), { value: 'x', replayed: true }, 'not pruned between two prunes')
    now += 1_000
    await s.once('e', 'k', () => 'e') // at 5,132 s: due
    t.same(await s.once('x', 'k', () => 'x-again'), { value: 'x-again', replayed: false }, 'pruned by the next one due')
    t.same(await s.once('b', 'k', () => 'b-again'), { value: 'b-again', replayed: false })
  })

  const second = fx.second
  if (second !== undefined) {
    t.test(`${name} once: two handles racing on the same events commit each once`, async (t) => {
      const a = await fx.open()
      const b = await second()
      t.teardown(async () => { await a.close(); await b.close() })
      const runs = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).once(`x-${i % 10}`, 'count', (tx) => tx.incr('shared'))))
      t.equal(await a.get('shared'), 10, 'ten distinct events, each counted once across both handles')
      t.equal(runs.filter((r) => !r.replayed).length, 10)
    })
  }
}
