import t from 'tap'
import { busiestFirst, dispatchStrategy, joinShortestQueue, randomDispatch, ThresholdDispatch, type Dispatchable } from '../../adapters/runtime/dispatch/thresholdDispatch.js'

function pool (...loads: number[]): Array<Dispatchable & { id: number; inFlight: number; lastUsedAt: number }> {
  return loads.map((inFlight, id) => ({ id, inFlight, lastUsedAt: id }))
}

t.test('busiest-first, JSQ and random pick among instances with a free slot', async (t) => {
  const p = pool(1, 3, 0, 4)
  t.equal(busiestFirst.pick(p, 4)?.id, 1, 'busiest with a free slot (4 is full)')
  const tie = pool(2, 2)
  t.equal(busiestFirst.pick(tie, 4)?.id, 1, 'latest used on a tie')
  t.equal(joinShortestQueue.pick(p, 4)?.id, 2)
  const seen = new Set<number>()
  let u = 0
  const rnd = randomDispatch(() => { u = (u + 0.26) % 1; return u })
  for (let i = 0; i < 12; i++) seen.add(rnd.pick(p, 4)?.id as number)
  t.same([...seen].sort(), [0, 1, 2], 'never the full one')
  for (const s of [busiestFirst, joinShortestQueue, rnd, new ThresholdDispatch({ random: () => 0 })]) {
    t.equal(s.pick(pool(2, 2), 2), undefined, `${s.name}: none free, none picked`)
  }
  t.equal(dispatchStrategy('jsq').name, 'jsq')
  t.equal(dispatchStrategy('threshold').name, 'threshold')
})

t.test('threshold: below L first, then at L, then any free', async (t) => {
  const s = new ThresholdDispatch({ random: () => 0.99, initial: 2, alpha: 0.1, choose: 'random' })
  t.equal(s.pick(pool(3, 1, 2, 0), 8)?.id, 3, 'below 2: instances 1 and 3; the draw picks the last')
  const s2 = new ThresholdDispatch({ random: () => 0, initial: 2, alpha: 0.1, choose: 'random' })
  t.equal(s2.pick(pool(3, 2, 5, 2), 8)?.id, 1, 'none below: one at L')
  const s3 = new ThresholdDispatch({ random: () => 0, initial: 2, alpha: 0.1, choose: 'random' })
  t.equal(s3.pick(pool(3, 4, 8), 8)?.id, 0, 'none at L: any free one')
  t.throws(() => new ThresholdDispatch({ random: Math.random, alpha: 1 }), RangeError)
})

t.test('threshold, choose recent (the default): the last used instance of the set, so the others go idle', async (t) => {
  const s = new ThresholdDispatch({ random: () => 0, initial: 1 })
  const p = pool(0, 0, 0, 2) // lastUsedAt = id: instance 2 was used last of the idle ones
  t.equal(s.pick(p, 4)?.id, 2, 'below L (idle ones): the most recently used, not a random one')
  const at = new ThresholdDispatch({ random: () => 0, initial: 1, alpha: 0.1 })
  t.equal(at.pick(pool(1, 1, 3), 4)?.id, 1, 'none below: the most recent at L')
  // At low load, requests come one at a time: recent keeps one instance busy, random spreads over all.
  for (const [choose, want] of [['recent', 1], ['random', 4]] as const) {
    let u = 0
    const d = new ThresholdDispatch({ random: () => { u = (u + 0.26) % 1; return u }, initial: 1, choose })
    const q = pool(0, 0, 0, 0)
    const used = new Set<number>()
    for (let i = 0; i < 12; i++) {
      const inst = d.pick(q, 4) as (typeof q)[number]
      used.add(inst.id)
      inst.lastUsedAt = 100 + i // it runs and ends before the next arrives
    }
    t.equal(used.size, want, `${choose}: ${used.size} instance(s) used`)
  }
})

t.test('threshold learns: up when every instance is past L, down when few reach it', async (t) => {
  const s = new ThresholdDispatch({ random: () => 0, initial: 1, alpha: 0.5, choose: 'random' })
  s.pick(pool(2, 2, 1), 8) // the one at 1 gets it: all at >= 2
  t.equal(s.threshold, 2, 'up by one')
  s.pick(pool(2, 2, 1), 2)
  t.equal(s.threshold, 2, 'never up to the slot count')
  const d = new ThresholdDispatch({ random: () => 0, initial: 3, alpha: 0.5, choose: 'random' })
  d.pick(pool(0, 0, 0, 4), 8) // after: 1, 0, 0, 4: one of four has >= 3
  t.equal(d.threshold, 2, 'down by one')
  const k = new ThresholdDispatch({ random: () => 0, initial: 2, alpha: 0.5, choose: 'random' })
  k.pick(pool(2, 3, 1, 0), 8) // after: 2, 3, 2, 0: three of four at >= 2, none all at >= 3
  t.equal(k.threshold, 2, 'otherwise unchanged')
  const z = new ThresholdDispatch({ random: () => 0, initial: 0, alpha: 0.5, choose: 'random' })
  z.pick(pool(0, 0), 8)
  t.equal(z.threshold, 0, 'not below 0')
})

t.test('threshold tracks a steady load: it fills instances to about the mean load', async (t) => {
  // 8 instances, 40 requests held in flight (one ends, one arrives): the threshold settles near 40 / 8.
  let seed = 1
  const random = (): number => { seed = (seed * 48271) % 2147483647; return seed / 2147483647 }
  const s = new ThresholdDispatch({ random, initial: 0 })
  const p = pool(0, 0, 0, 0, 0, 0, 0, 0)
  for (let i = 0; i < 40; i++) (s.pick(p, 16) as { inFlight: number }).inFlight++
  const ls: number[] = []
  for (let i = 0; i < 2000; i++) {
    const busy = p.filter((x) => x.inFlight > 0)
    ;(busy[Math.floor(random() * busy.length)] as { inFlight: number }).inFlight--
    ;(s.pick(p, 16) as { inFlight: number }).inFlight++
    ls.push(s.threshold)
  }
  const mean = ls.slice(500).reduce((a, b) => a + b, 0) / 1500
  t.ok(mean > 4 && mean < 7, `mean threshold ${mean.toFixed(2)} for a mean load of 5`)
  const max = Math.max(...p.map((x) => x.inFlight))
  t.ok(max <= 8, `no instance far above the rest (max ${max})`)
})
