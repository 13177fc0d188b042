import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { Batcher } from '../../adapters/ingress/batcher.js'
import { splitBatchReply } from '../../adapters/ingress/batchReply.js'
import { deadLetterEvent, DEAD_LETTER_EVENT_TYPE } from '../../adapters/ingress/deadLetter.js'
import { filterWithinPrefix } from '../../adapters/ingress/routeTable.js'

t.test('Batcher flushes at maxItems without waiting', async (t) => {
  const clock = new ManualClock()
  const flushed: number[][] = []
  const batcher = new Batcher<number, string>({ maxItems: 3, maxWaitMs: 50, clock, flush: async (items) => { flushed.push(items); return `n=${items.length}` } })
  const results = await Promise.all([batcher.add(1), batcher.add(2), batcher.add(3)])
  t.same(flushed, [[1, 2, 3]])
  t.same(results, ['n=3', 'n=3', 'n=3'], 'every item gets its batch outcome')
  t.equal(clock.pendingTimers, 0, 'the wait timer was cleared')
})

t.test('Batcher flushes what arrived when maxWaitMs passes since the first item', async (t) => {
  const clock = new ManualClock()
  const flushed: number[][] = []
  const batcher = new Batcher<number, void>({ maxItems: 10, maxWaitMs: 20, clock, flush: async (items) => { flushed.push(items) } })
  const p1 = batcher.add(1)
  clock.advance(15)
  const p2 = batcher.add(2)
  t.same(flushed, [], 'not yet')
  clock.advance(5)
  await Promise.all([p1, p2])
  t.same(flushed, [[1, 2]], 'flushed 20 ms after the first, not the last')
  batcher.add(3).catch(() => undefined)
  t.equal(batcher.pending, 1, 'a new batch starts')
  batcher.flushNow()
  t.same(flushed, [[1, 2], [3]], 'flushNow sends what is there (shutdown)')
})

t.test('Batcher: a failed flush rejects every item of that batch only', async (t) => {
  const clock = new ManualClock()
  let n = 0
  const batcher = new Batcher<number, number>({ maxItems: 2, maxWaitMs: 1, clock, flush: async (items) => { if (n++ === 0) throw new Error('boom'); return items.length } })
  const a = batcher.add(1); const b = batcher.add(2)
  await t.rejects(a, /boom/); await t.rejects(b, /boom/)
  t.equal(await Promise.all([batcher.add(3), batcher.add(4)]).then((r) => r[0]), 2)
})

t.test('splitBatchReply: one element per message, else nothing', async (t) => {
  const batch = Buffer.from(JSON.stringify([
    { specversion: '1.0', id: '1', source: 's', type: 't', datacontenttype: 'application/json', data: { ok: 1 } },
    null,
    { specversion: '1.0', id: '3', source: 's', type: 't', datacontenttype: 'text/plain', data: 'hi' },
    { specversion: '1.0', id: '4', source: 's', type: 't', datacontenttype: 'application/octet-stream', data_base64: 'AAE=' }
  ]))
  const r = splitBatchReply({ data: batch, contentType: 'application/cloudevents-batch+json' }, 4)
  t.equal(r?.length, 4)
  t.same(JSON.parse(r?.[0]?.data.toString() ?? ''), { ok: 1 })
  t.equal(r?.[1], undefined, 'null: no reply for that message')
  t.equal(r?.[2]?.data.toString(), 'hi')
  t.same([...(r?.[3]?.data ?? [])], [0, 1])
  t.equal(splitBatchReply({ data: batch, contentType: 'application/cloudevents-batch+json' }, 3), undefined, 'wrong length')
  t.equal(splitBatchReply({ data: Buffer.from('{"a":1}'), contentType: 'application/json' }, 1), undefined, 'not an array')
  t.same(splitBatchReply({ data: Buffer.from('[1,{"b":2}]'), contentType: 'application/json' }, 2)?.map((x) => x?.data.toString()), ['1', '{"b":2}'])
  t.equal(splitBatchReply({ data: Buffer.from('[1]'), contentType: 'text/plain' }, 1), undefined)
})

t.test('deadLetterEvent is a structured CloudEvent carrying the exact bytes and a readable reason', async (t) => {
  const payload = Buffer.from([0xff, 0x00, 0x41])
  const body = deadLetterEvent({
    attributes: { specversion: '1.0', id: 'orig', source: 's', type: 'com.x', datacontenttype: 'application/octet-stream', traceparent: 'tp' },
    topic: 'sensors/1', payload, payloadBytes: payload.length, route: 'routes[0]', function: 'f', code: 'TARGET_HTTP_STATUS', reason: 'HTTP 500 from the target', attempts: 5, httpStatus: 500,
    destination: 'knative:f', source: 'mqtt://h/c', id: 'dl-1', now: new Date(0)
  })
  const ev = JSON.parse(body.toString()) as Record<string, unknown>
  t.match(ev, {
    specversion: '1.0', id: 'dl-1', type: DEAD_LETTER_EVENT_TYPE, subject: 'sensors/1', iotlesserrorcode: 'TARGET_HTTP_STATUS', iotlesserrorreason: 'HTTP 500 from the target',
    iotlessattempts: 5, iotlessroute: 'routes[0]', iotlessfunction: 'f', iotlessoriginalid: 'orig', iotlessoriginaltype: 'com.x', knativeerrorcode: '500', knativeerrordest: 'knative:f', traceparent: 'tp'
  })
  t.same([...Buffer.from(ev.data_base64 as string, 'base64')], [...payload])
  t.equal(ev.iotlesspayloadbytes, 3)
})

t.test('deadLetterEvent without the payload (too large to copy): its size, no data_base64', async (t) => {
  const body = deadLetterEvent({
    attributes: undefined, topic: 'sensors/1', payload: undefined, payloadBytes: 50_000_000, route: 'routes[0]', function: 'f', code: 'PAYLOAD_TOO_LARGE', reason: 'too big', attempts: 0,
    destination: 'local:f', source: 'mqtt://h/c', id: 'dl-2', now: new Date(0)
  })
  const ev = JSON.parse(body.toString()) as Record<string, unknown>
  t.match(ev, { iotlesserrorcode: 'PAYLOAD_TOO_LARGE', iotlesspayloadbytes: 50_000_000, iotlesstopic: 'sensors/1' })
  t.notOk('data_base64' in ev, 'no copy of the payload')
  t.ok(body.length < 1024, `the dead letter is small (${body.length} bytes)`)
})

t.test('filterWithinPrefix', async (t) => {
  t.ok(filterWithinPrefix('tenants/acme/+/reading', 'tenants/acme/'))
  t.ok(filterWithinPrefix('tenants/acme/#', 'tenants/acme/'))
  t.ok(filterWithinPrefix('tenants/acme/x', 'tenants/acme/x'))
  t.notOk(filterWithinPrefix('tenants/+/x', 'tenants/acme/'), 'a wildcard before the prefix ends')
  t.notOk(filterWithinPrefix('#', 'tenants/'))
  t.notOk(filterWithinPrefix('tenants/other/x', 'tenants/acme/'))
})
