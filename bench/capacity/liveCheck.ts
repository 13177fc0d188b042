import { Registry } from 'prom-client'
import { systemClock } from '../../core/clock.js'
import { createMetrics } from '../../core/metrics.js'
import { createLogger } from '../../core/log.js'
import { createScaler } from '../../adapters/runtime/capacity/createScaler.js'
import { FunctionPlanner } from '../../adapters/runtime/capacity/functionPlanner.js'
import type { ScalerKind } from '../../adapters/runtime/capacity/scaler.js'
import { FunctionPool } from '../../adapters/runtime/functionPool.js'
import { measureColdStart, replayLive, TRACE_FUNCTION, type ColdStartCalibration, type LiveReplayResult } from '../../adapters/runtime/sim/liveReplay.js'
import { simulateRequests, type RequestSimResult } from '../../adapters/runtime/sim/requestSim.js'
import type { RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'

export interface LiveCheck {
  scaler: ScalerKind
  calibration: ColdStartCalibration
  /** Mean cold start the live pools saw during the run, ms: what the simulator is given. */
  liveColdStartMs: number
  /** `withinSlo`: requests whose latency less their service time (the wait, and the handler's overhead) was <= 100 ms. */
  live: Omit<LiveReplayResult, 'latencies'> & { withinSlo: number }
  sim: Pick<RequestSimResult, 'latencyMsP50' | 'latencyMsP95' | 'instanceSeconds' | 'spawns' | 'rejected' | 'sloAttainment'>
}

const quiet = createLogger({ level: 'warn' })

/**
 * Plays `trace` through live pools (real child processes running the trace function) with `scaler`, then the
 * simulator on the same trace with the cold start calibrated on this box just before: the two side by side.
 */
export async function liveCheck (trace: RequestTrace, scaler: ScalerKind, opts: { maxScale: number; concurrency?: number }): Promise<LiveCheck> {
  const concurrency = opts.concurrency ?? 1
  const metrics = createMetrics(new Registry(), { defaultMetrics: false })
  const make = (kind: ScalerKind, maxScale: number, withMetrics = false): FunctionPool => new FunctionPool({
    name: 'replay',
    modulePath: TRACE_FUNCTION,
    config: {},
    env: process.env,
    concurrency,
    maxScale,
    keepAliveMs: 600_000,
    initTimeoutMs: 60_000,
    timeoutMs: 60_000,
    clock: systemClock,
    log: quiet,
    metrics: withMetrics ? metrics : undefined,
    planner: new FunctionPlanner({ name: 'replay', concurrency, maxScale, scaler: createScaler({ kind, concurrency, maxScale }), weight: 8, reservedInstances: 0, minCpuShare: 0.5 })
  })
  const calibration = await measureColdStart((n) => make('reactive', n), 3)
  const pools = trace.functions.map(() => make(scaler, opts.maxScale, true))
  let live: LiveReplayResult
  try {
    live = await replayLive(trace, pools, { sampleMs: 20 })
  } finally {
    await Promise.all(pools.map((p) => p.close()))
  }
  // This box is shared, and its cold starts vary several-fold within a minute: the simulator is given the mean cold
  // start the live run saw (contention included, so no further contention is modelled), the calibration is reported.
  const cold = (await metrics.coldStartDuration.get()).values
  const sum = cold.find((v) => v.metricName?.endsWith('_sum') === true)?.value ?? 0
  const count = cold.find((v) => v.metricName?.endsWith('_count') === true)?.value ?? 0
  const liveColdStartMs = count > 0 ? (sum / count) * 1000 : calibration.aloneMs
  const sim = simulateRequests(trace, { scaler, maxScale: opts.maxScale, concurrency, coldStartMs: liveColdStartMs, coldStartCpus: 1e9 })
  const { latencies, ...liveOut } = live
  let withinSlo = 0
  let i = 0
  for (const fn of trace.functions) {
    for (const d of fn.durationsMs) {
      const l = latencies[i++] ?? NaN
      if (l - d <= 100) withinSlo++
    }
  }
  return {
    scaler,
    calibration,
    liveColdStartMs,
    live: { ...liveOut, withinSlo },
    sim: { latencyMsP50: sim.latencyMsP50, latencyMsP95: sim.latencyMsP95, instanceSeconds: sim.instanceSeconds, spawns: sim.spawns, rejected: sim.rejected, sloAttainment: sim.sloAttainment }
  }
}
