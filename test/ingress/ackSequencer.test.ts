// [MQTT-4.6.0-2]: PUBACKs go out in the order the PUBLISH packets arrived, whatever order the work finishes in.
import t from 'tap'
import { AckSequencer } from '../../adapters/ingress/ackSequencer.js'

t.test('in-order completion releases each ack at once', async (t) => {
  const s = new AckSequencer<number>()
  const a = s.push(1)
  const b = s.push(2)
  const c = s.push(3)
  t.equal(s.pending, 3)
  t.same(s.complete(a), [1])
  t.same(s.complete(b), [2])
  t.same(s.complete(c), [3])
  t.equal(s.pending, 0)
})

t.test('a later message finishing first waits for the ones before it', async (t) => {
  const s = new AckSequencer<string>()
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => s.push(x)) as [ReturnType<typeof s.push>, ReturnType<typeof s.push>, ReturnType<typeof s.push>, ReturnType<typeof s.push>]
  t.same(s.complete(c), [], 'c waits for a and b')
  t.same(s.complete(d), [], 'd waits too')
  t.equal(s.pending, 4)
  t.same(s.complete(b), [], 'b waits for a')
  t.same(s.complete(a), ['a', 'b', 'c', 'd'], 'a releases everything done behind it, oldest first')
  t.equal(s.pending, 0)
})

t.test('release stops at the first unfinished message', async (t) => {
  const s = new AckSequencer<number>()
  const tickets = [1, 2, 3, 4, 5].map((n) => s.push(n))
  const at = (i: number): ReturnType<typeof s.push> => tickets[i] as ReturnType<typeof s.push>
  t.same(s.complete(at(1)), [])
  t.same(s.complete(at(0)), [1, 2])
  t.same(s.complete(at(4)), [])
  t.same(s.complete(at(2)), [3])
  t.equal(s.pending, 2)
  t.same(s.complete(at(3)), [4, 5])
})

t.test('every order of completion releases every item exactly once, in arrival order', async (t) => {
  const n = 5
  const perms: number[][] = []
  const permute = (rest: number[], acc: number[]): void => {
    if (rest.length === 0) { perms.push(acc); return }
    rest.forEach((x, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...acc, x]))
  }
  permute([...Array(n).keys()], [])
  t.equal(perms.length, 120)
  let ok = 0
  for (const order of perms) {
    const s = new AckSequencer<number>()
    const tickets = [...Array(n).keys()].map((i) => s.push(i))
    const released: number[] = []
    for (const i of order) released.push(...s.complete(tickets[i] as ReturnType<typeof s.push>))
    if (released.join() === '0,1,2,3,4' && s.pending === 0) ok++
  }
  t.equal(ok, perms.length)
})

t.test('completing a ticket twice releases nothing new', async (t) => {
  const s = new AckSequencer<number>()
  const a = s.push(1)
  const b = s.push(2)
  t.same(s.complete(b), [])
  t.same(s.complete(b), [])
  t.same(s.complete(a), [1, 2])
  t.same(s.complete(a), [])
  t.equal(s.pending, 0)
})

t.test('clear forgets pending messages and returns how many; later pushes start afresh', async (t) => {
  const s = new AckSequencer<number>()
  const a = s.push(1)
  const b = s.push(2)
  s.push(3)
  t.same(s.complete(b), [])
  t.equal(s.clear(), 3)
  t.equal(s.pending, 0)
  t.equal(s.clear(), 0)
  t.same(s.complete(a), [], 'a ticket from before clear releases nothing (its connection is gone)')
  const c = s.push(4)
  t.same(s.complete(c), [4], 'a new message is not held behind forgotten ones')
})

t.test('items are passed through untouched', async (t) => {
  const s = new AckSequencer<{ messageId: number }>()
  const item = { messageId: 42 }
  const ticket = s.push(item)
  t.equal(ticket.item, item)
  t.equal(ticket.done, false)
  const [released] = s.complete(ticket)
  t.equal(released, item)
  t.equal(ticket.done, true)
})
