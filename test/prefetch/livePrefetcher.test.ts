import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { instancesWanted, type Actuator, type LiveDecision } from '../../prefetch/actuators/actuator.js'
import { ArrivalRecordingTarget } from '../../prefetch/live/arrivalRecordingTarget.js'
import { FixedPolicy } from '../../prefetch/policies/fixedPolicy.js'
import { IotlessPolicy } from '../../prefetch/policies/iotlessPolicy.js'
import { LivePrefetcher } from '../../prefetch/live/livePrefetcher.js'
import { parseInvocationCounts } from '../../prefetch/live/metricsArrivalSource.js'
import { MINUTE_MS, type Decision, type Policy } from '../../prefetch/policies/policy.js'
import { TokenBucket } from '../../prefetch/live/tokenBucket.js'
import type { DispatchResult, OutgoingEvent, Target } from '../../adapters/target.js'
import { memoryLog } from '../helpers/silentLog.js'

class RecordingActuator implements Actuator {
  readonly kind = 'test'
  readonly calls: Array<{ fn: string; d: LiveDecision }> = []
  closed = 0
  fail = false
  apply (fn: string, d: LiveDecision): void {
    if (this.fail) throw new Error('actuator down')
    this.calls.push({ fn, d })
  }

  close (): Promise<void> { this.closed++; return Promise.resolve() }
}

/** A policy that records what it is told, to check what the prefetcher feeds it. */
class SpyPolicy implements Policy {
  readonly name = 'spy'
  readonly params = {}
  readonly observed: Array<[string, number, number]> = []
  readonly decided: Array<[string, number]> = []
  constructor (readonly decision: Decision = { prewarmAt: 0, keepAliveUntil: 0, instances: 0 }) {}
  observe (fn: string, timeMs: number, count: number): void { this.observed.push([fn, timeMs, count]) }
  decide (fn: string, nowMs: number): Decision { this.decided.push([fn, nowMs]); return this.decision }
  stateBytes (): number { return 0 }
}

const START = 28_333_334 * MINUTE_MS // a whole minute (epoch ms)

t.test('arrivals of a minute are observed at the next minute start, at policy time minute x 60000', async (t) => {
  const clock = new ManualClock(START + 5_000)
  const policy = new SpyPolicy()
  const actuator = new RecordingActuator()
  const p = new LivePrefetcher({ policy, actuator, clock, log: memoryLog().log, functions: ['a'] })
  p.start()
  p.record('b', 2)
  p.record('b')
  clock.advance(50_000) // 55 s: still minute 0, no tick yet
  t.same(policy.decided, [], 'no decision before the first minute boundary')
  clock.advance(5_000) // minute 1 starts
  await p.whenIdle()
  t.same(policy.observed, [['b', 0, 3]], 'three arrivals in minute 0, observed once')
  t.same(policy.decided.map(([fn, at]) => `${fn}@${at}`).sort(), ['a@60000', 'b@60000'], 'every known function decided at policy minute 1')
  p.record('a')
  clock.advance(60_000)
  await p.whenIdle()
  t.same(policy.observed, [['b', 0, 3], ['a', MINUTE_MS, 1]])
  t.equal(p.stats.ticks, 2)
  await p.stop()
  t.equal(actuator.closed, 1, 'stop closes the actuator')
  clock.advance(10 * MINUTE_MS)
  await p.whenIdle()
  t.equal(p.stats.ticks, 2, 'no ticks after stop')
  t.equal(clock.pendingTimers, 0, 'no timer left')
})

t.test('decisions reach the actuator in real time, scaled by minuteMs', async (t) => {
  const clock = new ManualClock(START)
  const actuator = new RecordingActuator()
  // fixed keep-alive 2 minutes; one policy minute = 1 s of real time (a 60x replay)
  const p = new LivePrefetcher({ policy: new FixedPolicy({ keepAliveMin: 2 }), actuator, clock, log: memoryLog().log, minuteMs: 1000 })
  p.start()
  clock.advance(300)
  p.record('f')
  clock.advance(700) // minute 1
  await p.whenIdle()
  const d1 = actuator.calls.at(-1)?.d
  t.equal(d1?.prewarmAt, START, 'prewarmAt: the minute of the arrival, in real ms')
  t.equal(d1?.keepAliveUntil, START + 3000, 'keepAliveUntil: end of minute 0 plus 2 minutes of 1 s')
  t.equal(d1?.warm, 1, 'wants one warm instance')
  clock.advance(2000) // minute 3: keep-alive over
  await p.whenIdle()
  t.equal(actuator.calls.at(-1)?.d.warm, 0, 'released after the keep-alive')
  t.equal(actuator.calls.at(-1)?.d.nowMs, START + 3000)
  await p.stop()
})

t.test('the same policy gives the simulator\'s decisions when driven live', async (t) => {
  // A function every 5 minutes: iotless learns the rhythm, releases after each arrival and pre-warms for the next.
  const clock = new ManualClock(START)
  const actuator = new RecordingActuator()
  const live = new IotlessPolicy()
  const p = new LivePrefetcher({ policy: live, actuator, clock, log: memoryLog().log, functions: ['timer'] })
  const offline = new IotlessPolicy()
  p.start()
  const warmByMinute: number[] = []
  const offlineWarm: number[] = []
  for (let m = 0; m < 60; m++) {
    if (m > 0) {
      clock.advance(MINUTE_MS - 1000) // to the start of minute m
      await p.whenIdle()
      warmByMinute.push(actuator.calls.at(-1)?.d.warm ?? -1)
      if ((m - 1) % 5 === 0) offline.observe('timer', (m - 1) * MINUTE_MS, 1)
      offlineWarm.push(instancesWanted(offline.decide('timer', m * MINUTE_MS), m * MINUTE_MS))
    }
    clock.advance(1000) // one second into minute m
    if (m % 5 === 0) p.record('timer')
  }
  t.same(warmByMinute, offlineWarm, 'live decisions equal those of the same policy fed the same minutes')
  const tail = warmByMinute.slice(-10)
  t.ok(tail.filter((w) => w === 1).length >= 2 && tail.filter((w) => w === 0).length >= 6, `after learning, warm only around the expected minute (${tail.join(',')})`)
  await p.stop()
})

t.test('leadMs: an early pass pre-warms before the minute, and never releases', async (t) => {
  const clock = new ManualClock(START)
  const actuator = new RecordingActuator()
  // keep warm from minute 3 to 4 only
  const policy = new SpyPolicy({ prewarmAt: 3 * MINUTE_MS, keepAliveUntil: 4 * MINUTE_MS, instances: 1 })
  const p = new LivePrefetcher({ policy, actuator, clock, log: memoryLog().log, functions: ['f'], leadMs: 10_000 })
  p.start()
  clock.advance(2 * MINUTE_MS) // ticks at minute 1 and 2 (and early passes before them, wanting nothing)
  await p.whenIdle()
  t.same(actuator.calls.map((c) => c.d.warm), [0, 0], 'minutes 1 and 2: nothing warm; early passes sent nothing')
  clock.advance(MINUTE_MS - 10_000) // 10 s before minute 3
  await p.whenIdle()
  const early = actuator.calls.at(-1)?.d
  t.equal(early?.early, true, 'an early pass')
  t.equal(early?.warm, 1, 'pre-warms 10 s ahead of minute 3')
  t.equal(early?.nowMs, START + 3 * MINUTE_MS - 10_000)
  clock.advance(10_000)
  await p.whenIdle()
  t.same([actuator.calls.at(-1)?.d.early, actuator.calls.at(-1)?.d.warm], [false, 1], 'the minute itself holds it')
  clock.advance(MINUTE_MS)
  await p.whenIdle()
  t.same([actuator.calls.at(-1)?.d.early, actuator.calls.at(-1)?.d.warm], [false, 0], 'released at minute 4 by the full tick')
  await p.stop()
})

t.test('an actuator or collect failure is counted and logged; the next minute goes on', async (t) => {
  const clock = new ManualClock(START)
  const actuator = new RecordingActuator()
  actuator.fail = true
  const { log, lines } = memoryLog()
  let collects = 0
  const p = new LivePrefetcher({
    policy: new FixedPolicy(), actuator, clock, log, functions: ['f'],
    collect: async () => { collects++; if (collects === 1) throw new Error('scrape failed') }
  })
  p.start()
  clock.advance(MINUTE_MS)
  await p.whenIdle()
  t.equal(p.stats.actuatorErrors, 1)
  t.equal(p.stats.collectErrors, 1)
  t.ok(lines.some((l) => l.msg === 'prefetch: actuator failed; will try again next minute' && l.err === 'actuator down'))
  actuator.fail = false
  clock.advance(MINUTE_MS)
  await p.whenIdle()
  t.equal(actuator.calls.length, 1, 'second minute applied')
  t.equal(collects, 2)
  await p.stop()
})

t.test('arrivals a collect hook reports count in the minute that just ended (no minute of lag)', async (t) => {
  const clock = new ManualClock(START)
  const policy = new SpyPolicy()
  let pending = 0
  const p = new LivePrefetcher({
    policy, actuator: new RecordingActuator(), clock, log: memoryLog().log,
    collect: async (record) => { if (pending > 0) record('scraped', pending); pending = 0 }
  })
  p.start()
  clock.advance(MINUTE_MS)
  await p.whenIdle()
  t.same(policy.observed, [], 'nothing scraped yet')
  pending = 5 // five invocations during minute 1, seen by the scrape at the start of minute 2
  clock.advance(MINUTE_MS)
  await p.whenIdle()
  t.same(policy.observed, [['scraped', MINUTE_MS, 5]], 'observed in the same tick, at minute 1')
  t.same(policy.decided.at(-1), ['scraped', 2 * MINUTE_MS], 'and decided on at minute 2')
  await p.stop()
})

t.test('instancesWanted', async (t) => {
  const d = { prewarmAt: 120_000, keepAliveUntil: 180_000, instances: 2 }
  t.equal(instancesWanted(d, 60_000), 0, 'before the window')
  t.equal(instancesWanted(d, 60_000, 60_000), 2, 'lead brings it forward')
  t.equal(instancesWanted(d, 120_000), 2, 'at prewarmAt')
  t.equal(instancesWanted(d, 179_999), 2)
  t.equal(instancesWanted(d, 180_000), 0, 'keepAliveUntil is exclusive')
  t.equal(instancesWanted({ ...d, instances: 0 }, 150_000), 0, 'instances 0 is none')
  t.equal(instancesWanted({ prewarmAt: 0, keepAliveUntil: 0, instances: 1 }, 0), 0, 'empty window')
})

t.test('token bucket: one patch per interval, refilled over time', async (t) => {
  const b = new TokenBucket(1, 30_000)
  t.ok(b.take(1000), 'first passes')
  t.notOk(b.take(1000), 'second at once is refused')
  t.equal(b.waitMs(16_000), 15_000, 'half refilled after 15 s')
  t.notOk(b.take(30_999))
  t.ok(b.take(31_000), 'one interval later it passes')
  const burst = new TokenBucket(3, 1000)
  t.same([burst.take(0), burst.take(0), burst.take(0), burst.take(0)], [true, true, true, false], 'capacity 3 allows a burst of 3')
  t.ok(burst.take(1000))
  t.throws(() => new TokenBucket(0, 1), RangeError)
  t.throws(() => new TokenBucket(1, 0), RangeError)
})

t.test('parseInvocationCounts sums the outcomes of each function', async (t) => {
  const text = [
    '# HELP iotless_invocations_total Function invocations, by function and outcome.',
    '# TYPE iotless_invocations_total counter',
    'iotless_invocations_total{function="a",outcome="ok"} 5',
    'iotless_invocations_total{outcome="error",function="a"} 2',
    'iotless_invocations_total{function="b-2",outcome="ok"} 1e3',
    'iotless_invocations_total_other{function="a"} 100',
    'iotless_cold_starts_total{function="a"} 9',
    'iotless_invocations_total{outcome="ok"} 7',
    ''
  ].join('\n')
  t.same([...parseInvocationCounts(text)], [['a', 7], ['b-2', 1000]])
})

t.test('ArrivalRecordingTarget records each dispatch, then delegates', async (t) => {
  const seen: string[] = []
  const inner: Target = {
    kind: 'inner',
    dispatch: async (fn: string, _e: OutgoingEvent): Promise<DispatchResult> => { seen.push(`inner:${fn}`); return { status: 'ok' } },
    close: async () => { seen.push('close') }
  }
  const rec = new ArrivalRecordingTarget(inner, (fn, n) => seen.push(`record:${fn}:${n}`))
  const ev: OutgoingEvent = { attributes: { specversion: '1.0', id: '1', source: 's', type: 't' }, data: Buffer.alloc(0) }
  t.same(await rec.dispatch('f', ev), { status: 'ok' })
  await rec.close()
  t.equal(rec.kind, 'inner')
  t.same(seen, ['record:f:1', 'inner:f', 'close'])
})
