import t from 'tap'
import { guaranteeLive } from '../../bench/capacity/guaranteeLive.js'

// Real child processes: a box of 3 instances, a guaranteed function (5/s, burst 2, 50 ms) offered 16x its rate,
// two best-effort functions offered 10x the box. The two pools side by side: the admission breaker
// (guaranteedBreaker.ts) against one shared FIFO with the same reservation kept warm.
t.test('live: within-guarantee invocations keep their SLO while the box is offered 10x; in one FIFO they do not', async (t) => {
  const opts = { boxInstances: 3, durationMs: 4000, hogs: 2, hogServiceMs: 200, offeredTimesBox: 10, guarantee: { ratePerSec: 5, burst: 2 }, guaranteedServiceMs: 50, guaranteedOfferedTimes: 16, waitMs: 100, seed: 7 }
  const ours = await guaranteeLive(opts)
  const fifo = await guaranteeLive({ ...opts, priority: false })
  t.ok(ours.overloaded && fifo.overloaded, 'the box was overloaded')
  t.ok(ours.offeredTimesBox > 8, `others offered ${ours.offeredTimesBox.toFixed(1)}x the box`)
  t.equal(ours.admittedFailed, 0, 'no admitted invocation refused or failed')
  t.ok(ours.admitted >= 15, `${ours.admitted} invocations within the guarantee`)
  const share = (r: typeof ours): number => r.admittedWithin / Math.max(1, r.admitted + r.admittedFailed)
  // 100% is the target (bench/RESULTS.md reports it); on a shared 2-core machine a starved event loop can push a
  // few past 100 ms, so the test asks for 90% and a clear margin over the FIFO.
  t.ok(share(ours) >= 0.9, `ours: ${ours.admittedWithin}/${ours.admitted} within the SLO (max wait ${ours.admittedWaitMsMax.toFixed(0)} ms, event-loop delay max ${ours.eventLoopDelayMsMax.toFixed(0)} ms)`)
  t.ok(share(fifo) < share(ours) - 0.3, `one FIFO: ${fifo.admittedWithin}/${fifo.admitted + fifo.admittedFailed} within (max wait ${fifo.admittedWaitMsMax.toFixed(0)} ms)`)
})
