import t from 'tap'
import { simulate, percentileSorted } from '../../prefetch/sim/simulate.js'
import { FixedPolicy } from '../../prefetch/policies/fixedPolicy.js'
import { MINUTE_MS, RELEASE, type Decision, type Policy } from '../../prefetch/policies/policy.js'
import type { Trace } from '../../prefetch/traces/trace.js'

function trace (series: Array<{ minutes: number[]; counts?: number[]; durationMs?: number; memoryMb?: number }>, minutes: number): Trace {
  return {
    format: 'azure2019',
    source: 'synthetic',
    firstMinuteLabel: 0,
    minutes,
    functions: series.map((s, i) => ({
      id: `f${i}`,
      trigger: 'timer',
      minutes: Uint32Array.from(s.minutes),
      counts: Uint32Array.from(s.counts ?? s.minutes.map(() => 1)),
      durationMs: s.durationMs ?? 0,
      memoryMb: s.memoryMb ?? 1024
    }))
  }
}

/** A policy that replays fixed decisions, to pin the accounting. */
class Scripted implements Policy {
  readonly name = 'scripted'
  readonly params = {}
  readonly calls: Array<[string, number, number]> = []
  constructor (readonly d: (now: number) => Decision) {}
  observe (fn: string, time: number, count: number): void { this.calls.push([fn, time, count]) }
  decide (_fn: string, now: number): Decision { return this.d(now) }
  stateBytes (): number { return 0 }
}

t.test('first arrival is cold, later ones in the same minute warm', async (t) => {
  const r = simulate(trace([{ minutes: [2], counts: [5] }], 5), new Scripted(() => RELEASE))
  t.equal(r.invocations, 5)
  t.equal(r.coldStarts, 1)
  t.equal(r.coldStartPct, 20)
  t.equal(r.p75FunctionColdStartPct, 20)
})

t.test('observe gets the previous minute\'s arrivals before the decision, as an actuator would', async (t) => {
  const p = new Scripted(() => RELEASE)
  simulate(trace([{ minutes: [1, 3], counts: [2, 4] }], 5), p)
  t.same(p.calls, [['f0', MINUTE_MS, 2], ['f0', 3 * MINUTE_MS, 4]])
})

t.test('fixed 10: an arrival after 9 idle minutes is warm, after 10 cold; waste is the held idle time', async (t) => {
  const r = simulate(trace([{ minutes: [0, 10, 21] }], 30), new FixedPolicy({ keepAliveMin: 10 }), { perFunction: true })
  t.equal(r.coldStarts, 2, 'minute 0 cold, 10 warm (9 idle), 21 cold (10 idle)')
  // arrival minutes: 3 x 60 s idle (duration 0); kept: 9 min (1..9) + 10 min (11..20) + 8 min (22..29, trace ends)
  const gb = 1
  t.equal(r.keepAliveWasteGbSeconds, (9 + 10 + 8) * 60 * gb)
  t.equal(r.wastedMemoryGbSeconds, (3 + 27) * 60 * gb)
})

t.test('busy time is not waste; long invocations keep the instance busy past the minute', async (t) => {
  const short = simulate(trace([{ minutes: [0], counts: [3], durationMs: 10_000 }], 1), new Scripted(() => RELEASE))
  t.equal(short.wastedMemoryGbSeconds, 30, '60 s loaded - 30 s busy')
  const long = simulate(trace([{ minutes: [0, 1], durationMs: 90_000 }], 3), new Scripted(() => RELEASE))
  t.equal(long.coldStarts, 1, 'still busy at minute 1: warm')
  // minute 0 busy 60, minute 1: busy until 90 s of minute 0 start... then a new one until 150 s; minute 2 busy 30 s
  t.equal(long.wastedMemoryGbSeconds, 0)
})

t.test('a pre-warm window counts as waste only for the part inside the trace, scaled by instances', async (t) => {
  const d: Decision = { prewarmAt: 1.5 * MINUTE_MS, keepAliveUntil: 2.5 * MINUTE_MS, instances: 2 }
  const r = simulate(trace([{ minutes: [0], memoryMb: 512 }], 4), new Scripted(() => d))
  // minute 0 has the arrival: 60 s idle; minutes 1 and 2 hold 30 s each of window, 2 instances: 2 x 60 s x 0.5 GB
  t.equal(r.wastedMemoryGbSeconds, 60 * 0.5 + 2 * 60 * 0.5)
})

t.test('p75 is the nearest-rank 75th percentile over functions', async (t) => {
  t.equal(percentileSorted([0, 10, 20, 30], 75), 20)
  t.equal(percentileSorted([5], 75), 5)
  t.ok(Number.isNaN(percentileSorted([], 75)))
  const r = simulate(trace([{ minutes: [0] }, { minutes: [0], counts: [2] }, { minutes: [0], counts: [4] }, { minutes: [0], counts: [10] }], 1), new Scripted(() => RELEASE))
  t.equal(r.p75FunctionColdStartPct, 50)
  t.ok(r.decisionMicrosP99 >= 0)
})
