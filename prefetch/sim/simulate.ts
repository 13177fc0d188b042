import { MINUTE_MS, type Policy } from '../policies/policy.js'
import type { Trace } from '../traces/trace.js'

/** Per-function outcome of a simulation. */
export interface FunctionResult {
  id: string
  invocations: number
  coldStarts: number
  wastedMemoryGbSeconds: number
}

export interface SimResult {
  policy: string
  params: Readonly<Record<string, number>>
  trace: string
  traceFormat: string
  minutes: number
  functions: number
  invocations: number
  coldStarts: number
  coldStartPct: number
  /** 75th percentile (nearest rank) over functions with arrivals of each function's cold-start %. */
  p75FunctionColdStartPct: number
  /** Warm-but-idle instance time times memory, in GB-seconds. */
  wastedMemoryGbSeconds: number
  /** The part of the waste spent in minutes without arrivals: what the policy chose to hold. */
  keepAliveWasteGbSeconds: number
  /** The time of one per-minute policy step for one function (observe the minute's arrivals, then decide). */
  decisionMicrosP50: number
  decisionMicrosP99: number
  /** Policy state per function at the end, in bytes. */
  stateBytesPerFunctionMean: number
  stateBytesPerFunctionMax: number
  simSeconds: number
  perFunction?: FunctionResult[]
}

export interface SimOptions {
  /** Keep per-function results in the output. */
  perFunction?: boolean
  /** Time every step (true) or skip timing (decisionMicros* become 0) for sweeps. */
  timeDecisions?: boolean
}

/** Nearest-rank percentile of an ascending-sorted array; NaN when empty. */
export function percentileSorted (sorted: ArrayLike<number>, pct: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.max(1, Math.ceil((pct / 100) * sorted.length))
  return sorted[Math.min(sorted.length, rank) - 1] ?? NaN
}

function overlapMs (a0: number, a1: number, b0: number, b1: number): number {
  return Math.max(0, Math.min(a1, b1) - Math.max(a0, b0))
}

/**
 * Runs `policy` over `trace`, minute by minute and, within a minute, function by function, exactly as a live
 * actuator would: at the start of minute m the policy first observes each function's arrivals of minute m-1, then
 * decides. The model (docs/prefetch.md):
 * - the function is warm in minute m when the decision holds an instance at the start of the minute
 *   (prewarmAt <= start < keepAliveUntil, instances >= 1) or the instance is still busy with an earlier invocation;
 * - arrivals of a minute come at unknown times inside it, so a minute with arrivals holds the instance for the whole
 *   minute; its first arrival is a cold start if the function was not warm, later ones are warm;
 * - one instance runs the minute's invocations one after another (count x average duration, at most the minute);
 *   an invocation longer than a minute keeps it busy past the minute; work beyond one instance runs on extra
 *   instances that exist only while busy, so it wastes nothing and, as in the paper, is not counted as cold;
 * - waste = loaded-but-idle time x memory (GB-s), plus (instances-1) x window time x memory for extra warm copies.
 */
export function simulate (trace: Trace, policy: Policy, options: SimOptions = {}): SimResult {
  const started = process.hrtime.bigint()
  const fns = trace.functions
  const nFn = fns.length
  const cursor = new Uint32Array(nFn)
  const busyEndMs = new Float64Array(nFn)
  const cold = new Float64Array(nFn)
  const invocations = new Float64Array(nFn)
  const waste = new Float64Array(nFn)
  let keepAliveWaste = 0
  const timing = options.timeDecisions !== false
  const stepNs = timing ? new Float64Array(trace.minutes * nFn) : new Float64Array(0)
  let steps = 0
  const memGb = fns.map((f) => f.memoryMb / 1024)
  const durMs = fns.map((f) => f.durationMs)
  if (policy.register !== undefined) {
    for (const f of fns) policy.register(f.id, { memoryMb: f.memoryMb, durationMs: f.durationMs, trigger: f.trigger })
  }

  for (let m = 0; m < trace.minutes; m++) {
    const now = m * MINUTE_MS
    const end = now + MINUTE_MS
    for (let i = 0; i < nFn; i++) {
      const f = fns[i]
      if (f === undefined) continue
      // The arrivals of the previous minute, if any, are at the cursor.
      let c = cursor[i] ?? 0
      const prevCount = c > 0 && f.minutes[c - 1] === m - 1 ? (f.counts[c - 1] ?? 0) : 0
      let t0 = 0n
      if (timing) t0 = process.hrtime.bigint()
      if (prevCount > 0) policy.observe(f.id, (m - 1) * MINUTE_MS, prevCount)
      const d = policy.decide(f.id, now)
      if (timing) stepNs[steps++] = Number(process.hrtime.bigint() - t0)

      const busyEnd = busyEndMs[i] ?? 0
      const inWindow = d.instances >= 1 && d.prewarmAt <= now && now < d.keepAliveUntil
      const warm = inWindow || busyEnd > now
      const n = c < f.minutes.length && f.minutes[c] === m ? (f.counts[c] ?? 0) : 0
      const mem = memGb[i] ?? 0
      const windowMs = d.instances >= 1 ? overlapMs(now, end, d.prewarmAt, d.keepAliveUntil) : 0
      let idleMs: number
      if (n > 0) {
        c++
        cursor[i] = c
        invocations[i] = (invocations[i] ?? 0) + n
        if (!warm) cold[i] = (cold[i] ?? 0) + 1
        const dur = durMs[i] ?? 0
        const ownWorkMs = dur >= MINUTE_MS ? dur : Math.min(n * dur, MINUTE_MS)
        const newBusyEnd = Math.max(busyEnd, now + ownWorkMs)
        busyEndMs[i] = newBusyEnd
        idleMs = MINUTE_MS - overlapMs(now, end, now, newBusyEnd)
        waste[i] = (waste[i] ?? 0) + idleMs * mem / 1000
      } else {
        const busyMs = overlapMs(now, end, now, busyEnd)
        const loadedMs = busyMs + windowMs - overlapMs(d.prewarmAt, d.keepAliveUntil, now, Math.min(end, Math.max(now, busyEnd)))
        idleMs = loadedMs - busyMs
        const w = idleMs * mem / 1000
        waste[i] = (waste[i] ?? 0) + w
        keepAliveWaste += w
      }
      if (d.instances > 1 && windowMs > 0) {
        const extra = (d.instances - 1) * windowMs * mem / 1000
        waste[i] = (waste[i] ?? 0) + extra
        if (n === 0) keepAliveWaste += extra
      }
    }
  }

  let totalInv = 0
  let totalCold = 0
  let totalWaste = 0
  const pcts: number[] = []
  const perFunction: FunctionResult[] = []
  let stateSum = 0
  let stateMax = 0
  for (let i = 0; i < nFn; i++) {
    const inv = invocations[i] ?? 0
    const cs = cold[i] ?? 0
    totalInv += inv
    totalCold += cs
    totalWaste += waste[i] ?? 0
    if (inv > 0) pcts.push((100 * cs) / inv)
    const f = fns[i]
    if (f === undefined) continue
    const sb = policy.stateBytes(f.id)
    stateSum += sb
    if (sb > stateMax) stateMax = sb
    if (options.perFunction === true) perFunction.push({ id: f.id, invocations: inv, coldStarts: cs, wastedMemoryGbSeconds: waste[i] ?? 0 })
  }
  pcts.sort((a, b) => a - b)
  const ns = stepNs.subarray(0, steps).sort()
  const result: SimResult = {
    policy: policy.name,
    params: policy.params,
    trace: trace.source,
    traceFormat: trace.format,
    minutes: trace.minutes,
    functions: nFn,
    invocations: totalInv,
    coldStarts: totalCold,
    coldStartPct: totalInv === 0 ? 0 : (100 * totalCold) / totalInv,
    p75FunctionColdStartPct: pcts.length === 0 ? 0 : percentileSorted(pcts, 75),
    wastedMemoryGbSeconds: totalWaste,
    keepAliveWasteGbSeconds: keepAliveWaste,
    decisionMicrosP50: steps === 0 ? 0 : percentileSorted(ns, 50) / 1000,
    decisionMicrosP99: steps === 0 ? 0 : percentileSorted(ns, 99) / 1000,
    stateBytesPerFunctionMean: nFn === 0 ? 0 : stateSum / nFn,
    stateBytesPerFunctionMax: stateMax,
    simSeconds: Number(process.hrtime.bigint() - started) / 1e9
  }
  if (options.perFunction === true) result.perFunction = perFunction
  return result
}
