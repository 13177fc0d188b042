import { systemClock } from '../../core/clock.js'
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
  live: Omit<LiveReplayResult, 'latencies'>
  sim: Pick<RequestSimResult, 'latencyMsP50' | 'latencyMsP95' | 'instanceSeconds' | 'spawns' | 'rejected' | 'sloAttainment'>
}

const quiet = createLogger({ level: 'warn' })

/**
 * Plays `trace` through live pools (real child processes running the trace function) with `scaler`, then the
 * simulator on the same trace with the cold start calibrated on this box just before: the two side by side.
 */
export async function liveCheck (trace: RequestTrace, scaler: ScalerKind, opts: { maxScale: number; concurrency?: number }): Promise<LiveCheck> {
  const concurrency = opts.concurrency ?? 1
  const make = (kind: ScalerKind, maxScale: number): FunctionPool => new FunctionPool({
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
    planner: new FunctionPlanner({ name: 'replay', concurrency, maxScale, scaler: createScaler({ kind, concurrency, maxScale }), weight: 8, reservedInstances: 0, minCpuShare: 0.5 })
  })
  const calibration = await measureColdStart((n) => make('reactive', n), 3)
  const pools = trace.functions.map(() => make(scaler, opts.maxScale))
  let live: LiveReplayResult
  try {
    live = await replayLive(trace, pools, { sampleMs: 20 })
  } finally {
    await Promise.all(pools.map((p) => p.close()))
  }
  const sim = simulateRequests(trace, { scaler, maxScale: opts.maxScale, concurrency, coldStartMs: calibration.aloneMs, coldStartCpus: calibration.cpus })
  const { latencies: _drop, ...liveOut } = live
  return {
    scaler,
    calibration,
    live: liveOut,
    sim: { latencyMsP50: sim.latencyMsP50, latencyMsP95: sim.latencyMsP95, instanceSeconds: sim.instanceSeconds, spawns: sim.spawns, rejected: sim.rejected, sloAttainment: sim.sloAttainment }
  }
}
