import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { parseTraceparent, RecentTraces } from '../../core/tracing/recentTraces.js'

function ids (): (b: 8 | 16) => string {
  let n = 0
  return (b) => (++n).toString(16).padStart(b * 2, '0')
}

t.test('a message trace: root span, stages under it, times from the clock', async (t) => {
  const clock = new ManualClock(1000)
  const rt = new RecentTraces({ capacity: 3, clock, newId: ids() })
  const m = rt.begin({ topic: 'a/b', payload: Buffer.from('<script>x</script>'), qos: 1 })
  const r = m.stage('route match')
  clock.advance(1)
  r.end()
  const d = m.stage('dispatch', { 'iotless.route': 'routes[0]' })
  clock.advance(5)
  d.set('iotless.attempts', 2)
  d.end('FUNCTION_ERROR')
  d.end() // a second end changes nothing
  m.end('ack')
  const [tr] = rt.recent()
  t.ok(tr)
  t.equal(tr?.topic, 'a/b')
  t.equal(tr?.payloadPreview, '<script>x</script>', 'kept as text: escaping is the page\'s job')
  t.equal(tr?.outcome, 'ack')
  t.equal(tr?.endMs, 1006)
  t.same(tr?.spans.map((s) => s.name), ['mqtt receive', 'route match', 'dispatch'])
  const root = tr?.spans[0]
  t.equal(root?.parentSpanId, undefined, 'a message with no context starts a trace')
  for (const s of tr?.spans.slice(1) ?? []) t.equal(s.parentSpanId, root?.spanId, `${s.name} is a child of the message`)
  t.match(tr?.spans[2], { startMs: 1001, endMs: 1006, error: 'FUNCTION_ERROR', attributes: { 'iotless.attempts': 2 } })
  t.equal(m.traceparent, `00-${tr?.traceId}-${root?.spanId}-01`)
})

t.test('an incoming traceparent keeps its trace id and becomes the parent', async (t) => {
  const rt = new RecentTraces({ capacity: 1, clock: new ManualClock(), newId: ids() })
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  rt.begin({ topic: 't', payload: Buffer.alloc(0), qos: 0, traceparent: tp }).end('ack')
  const tr = rt.recent()[0]
  t.equal(tr?.traceId, '4bf92f3577b34da6a3ce929d0e0e4736')
  t.equal(tr?.spans[0]?.parentSpanId, '00f067aa0ba902b7')
  t.equal(parseTraceparent('00-00000000000000000000000000000000-00f067aa0ba902b7-01'), undefined, 'all-zero trace id is invalid')
  t.equal(parseTraceparent('garbage'), undefined)
})

t.test('the ring keeps the newest, newest first, and counts all', async (t) => {
  const rt = new RecentTraces({ capacity: 3, clock: new ManualClock(), newId: ids() })
  for (let k = 0; k < 5; k++) rt.begin({ topic: `t/${k}`, payload: Buffer.alloc(0), qos: 0 }).end('ack')
  t.same(rt.recent().map((x) => x.topic), ['t/4', 't/3', 't/2'])
  t.same(rt.recent(2).map((x) => x.topic), ['t/4', 't/3'])
  t.equal(rt.finished, 5)
  t.throws(() => new RecentTraces({ capacity: 0, clock: new ManualClock() }), /positive integer/)
})

t.test('the payload preview is cut at previewBytes', async (t) => {
  const rt = new RecentTraces({ capacity: 1, clock: new ManualClock(), previewBytes: 4 })
  rt.begin({ topic: 't', payload: Buffer.from('abcdefgh'), qos: 0 }).end('ack')
  t.match(rt.recent()[0], { payloadPreview: 'abcd', payloadBytes: 8 })
})

t.test('perSecond: a burst up to the ring\'s size is recorded whole, then at most perSecond', async (t) => {
  const clock = new ManualClock(0)
  const rt = new RecentTraces({ capacity: 4, perSecond: 2, clock, newId: ids() })
  const send = (k: number): boolean => {
    const m = rt.begin({ topic: `t/${k}`, payload: Buffer.alloc(0), qos: 0, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' })
    const s = m.stage('dispatch')
    s.end()
    m.end('ack')
    if (m.recording === false) {
      t.equal(s.recording, false, 'its stages record nothing')
      t.equal(s.traceparent, undefined, 'and hand on no context of their own')
      t.equal(m.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'the incoming context is left as it came')
    }
    return m.recording !== false
  }
  const burst = Array.from({ length: 6 }, (_, k) => send(k))
  t.same(burst, [true, true, true, true, false, false], 'the bucket holds capacity messages')
  t.same(rt.recent().map((x) => x.topic), ['t/3', 't/2', 't/1', 't/0'])
  t.equal(rt.finished, 4)
  t.equal(rt.skipped, 2)
  clock.advance(499)
  t.equal(send(10), false, 'under one message refilled after 499 ms at 2/s')
  clock.advance(1)
  t.equal(send(11), true, 'one after 500 ms')
  t.equal(send(12), false)
  clock.advance(60_000)
  t.same(Array.from({ length: 6 }, (_, k) => send(20 + k)), [true, true, true, true, false, false], 'a long idle refills to capacity, no more')
  t.throws(() => new RecentTraces({ capacity: 1, perSecond: 0, clock }), /perSecond must be positive/)
})

t.test('no perSecond: every message is recorded', async (t) => {
  const rt = new RecentTraces({ capacity: 2, clock: new ManualClock(0), newId: ids() })
  for (let k = 0; k < 100; k++) rt.begin({ topic: 't', payload: Buffer.alloc(0), qos: 0 }).end('ack')
  t.equal(rt.finished, 100)
  t.equal(rt.skipped, 0)
})
