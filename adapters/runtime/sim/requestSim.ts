import { performance } from 'node:perf_hooks'
import { DEFAULT_KEEP_ALIVE_MS } from '../../../core/config/schema.js'
import { BoxAllocator } from '../capacity/boxAllocator.js'
import { createScaler } from '../capacity/createScaler.js'
import { jainIndex } from '../capacity/fairShare.js'
import { FunctionPlanner } from '../capacity/functionPlanner.js'
import { GuaranteeGate, type Guarantee } from '../capacity/guaranteeGate.js'
import type { KpaSettings } from '../capacity/kpaScaler.js'
import { reservationFor } from '../capacity/reservation.js'
import type { ScalerKind } from '../capacity/scaler.js'
import { SLO_DEFAULTS, type Slo, type SloSettings } from '../capacity/sloScaler.js'
import { BOX_WARM_PRICE, WarmPrice, type WarmPriceSettings, type WarmPriceStep } from '../capacity/warmPrice.js'
import type { RequestTrace } from './requestTrace.js'
import { SharedStarts } from './sharedStarts.js'
import { StartGate } from '../capacity/startGate.js'
import { SimClock } from './simClock.js'
import { SimPool, type SimOutcome, type SpawnRecord } from './simPool.js'

/** Per-function settings; every field falls back to the run's. */
export interface SimFunctionSettings {
  concurrency?: number
  maxScale?: number
  weight?: number
  slo?: Slo
  guarantee?: Guarantee
}

export interface RequestSimOptions {
  scaler: ScalerKind
  /** The objective sized for (slo) and measured against (all): LaSS's 100 ms at p95. */
  slo: Slo
  concurrency: number
  maxScale: number
  keepAliveMs: number
  /** Spawn + init of an instance started alone: measure it on the box (bench/capacity does) or take 250 ms. */
  coldStartMs: number
  /** CPUs that concurrent cold starts share (simPool.ts StartCounter): 2, a small edge box. */
  coldStartCpus: number
  /**
   * How concurrent starts share those CPUs: `atStart` (default), a start's length fixed when it begins from the
   * starts then under way; `processor`, as processes share them (sharedStarts.ts): a later start slows those under way.
   */
  coldStartSharing?: 'atStart' | 'processor' | undefined
  /**
   * The box's start gate (capacity/startGate.ts): at most this many cold starts under way at once, the rest wait
   * their turn FIFO (without a process, so without instance-seconds) and then start under either sharing model.
   * Absent (the default): coldStartCpus, floored, at least 1 (bench/RESULTS.md "Capacity: a start gate"); 0: no gate.
   */
  maxConcurrentStarts?: number | undefined
  /** Capacity units of the box (instances at full CPU); Infinity: no box limit. */
  boxInstances: number
  minCpuShare: number
  fixedInstances?: number | undefined
  kpa?: Partial<KpaSettings> | undefined
  sloSettings?: Partial<SloSettings> | undefined
  /** Settings of single functions, by trace id. */
  functions?: ReadonlyMap<string, SimFunctionSettings> | undefined
  /**
   * How long past the trace's end queued requests may still drain, ms (default 1 h); what is still queued then
   * counts as unfinished (with the refused: not served). Under an overload that leaves a function a share below one
   * deflated instance, its queue does not move until the overload ends.
   */
  drainMs?: number | undefined
  /** The box's feedback price's settings beyond its bounds (warmPrice.ts), for comparing its designs. */
  warmPrice?: Partial<WarmPriceSettings> | undefined
  /** Return every request's wait and latency (perFunction[i].outcome); off by default, it is 9 bytes a request. */
  keepOutcomes?: boolean | undefined
  /** Record every instance started (perFunction[i].spawnLog): diagnosis; it changes no decision. */
  spawnLog?: boolean | undefined
  /** Record the box's cumulative instance-seconds and instances started every this many ms (result.probe); 0: off. */
  probeEveryMs?: number | undefined
}

export const REQUEST_SIM_DEFAULTS: Readonly<RequestSimOptions> = Object.freeze({
  scaler: 'slo',
  slo: { waitMs: 100, percentile: 0.95 },
  concurrency: 1,
  maxScale: 256,
  keepAliveMs: DEFAULT_KEEP_ALIVE_MS,
  coldStartMs: 250,
  coldStartCpus: 2,
  boxInstances: Infinity,
  minCpuShare: 0.5
})

export interface FunctionSimResult {
  id: string
  requests: number
  rejected: number
  withinSlo: number
  spawns: number
  maxInstances: number
  instanceSeconds: number
  /** Instance-seconds weighted by CPU share (a deflated instance counts its share). */
  cpuSeconds: number
  guaranteedRequests: number
  guaranteedWithinSlo: number
  outcome?: SimOutcome
  spawnLog?: SpawnRecord[]
}

export interface RequestSimResult {
  model: 'request'
  scaler: ScalerKind
  trace: string
  traceFormat: string
  traceHow: string
  functions: number
  requests: number
  /** Refused (queue full) or still unfinished when the drain time ran out. */
  rejected: number
  /** Share of requests that waited at most slo.waitMs (a refused or unfinished request counts as a miss). */
  sloAttainment: number
  slo: Slo
  latencyMsP50: number
  latencyMsP95: number
  latencyMsP99: number
  waitMsP50: number
  waitMsP95: number
  waitMsP99: number
  /** Instances started (each is a cold start). */
  spawns: number
  instanceSeconds: number
  cpuSeconds: number
  /** Time-average of instances standing. */
  meanInstances: number
  guaranteedRequests: number
  guaranteedWithinSlo: number
  /** Overload: box capacity passed; how long; Jain's index of the per-function within-SLO share during it. */
  overloadSeconds: number
  overloads: number
  jainUnderOverload: number | null
  /** Overload start to the allocation handed to the pools, ms, p50 and max (simulated time). */
  reallocationMsP50: number | undefined
  reallocationMsMax: number | undefined
  perFunction: FunctionSimResult[]
  /** The box's feedback price (slo, sloSettings.attainmentTarget > 0): each batch judged and the price after it. */
  warmPriceSteps?: WarmPriceStep[]
  /** probeEveryMs > 0: the box's cumulative instance-seconds and instances started at each multiple of it. */
  probe?: Array<{ atMs: number; instanceSeconds: number; spawns: number }>
  simSeconds: number
  simulatedSeconds: number
  heapMb: number
}

/**
 * The request-level simulator: every request of a RequestTrace through a SimPool per function (the live pool's
 * mechanics in simulated time), with the same planners, scalers, box allocator and guarantee gates the live pool
 * runs. Arrivals of all functions are merged through a heap of per-function cursors; everything else is a timer
 * on the SimClock. Deterministic: the same trace and options give the same result.
 */
export function simulateRequests (trace: RequestTrace, options: Partial<RequestSimOptions> = {}): RequestSimResult {
  const o: RequestSimOptions = { ...REQUEST_SIM_DEFAULTS, ...options }
  const t0 = performance.now()
  const clock = new SimClock()
  const box = Number.isFinite(o.boxInstances) ? new BoxAllocator({ capacity: o.boxInstances, clock, replanMs: 50 }) : undefined
  const overloadSpans: Array<[number, number]> = []
  let overloadFrom = -1
  if (box !== undefined) {
    box.onShare = (over) => {
      const now = clock.now()
      if (over && overloadFrom < 0) overloadFrom = now
      if (!over && overloadFrom >= 0) { overloadSpans.push([overloadFrom, now]); overloadFrom = -1 }
    }
  }
  const starts = { starting: 0, cpus: Math.max(0.1, o.coldStartCpus) }
  const sharedStarts = o.coldStartSharing === 'processor' ? new SharedStarts(clock, starts.cpus) : undefined
  const startLimit = o.maxConcurrentStarts ?? Math.max(1, Math.floor(starts.cpus))
  const startGate = startLimit > 0 ? new StartGate(startLimit) : undefined
  const pools: SimPool[] = []
  const spawnLogs: SpawnRecord[][] = []
  const gates: Array<GuaranteeGate | undefined> = []
  const warmPrice = boxWarmPrice(o)
  for (const fn of trace.functions) {
    const fs = o.functions?.get(fn.id) ?? {}
    const concurrency = fs.concurrency ?? o.concurrency
    const maxScale = fs.maxScale ?? o.maxScale
    const slo = fs.slo ?? o.slo
    let reserved = 0
    let gate: GuaranteeGate | undefined
    if (fs.guarantee !== undefined) {
      let mean = 0
      for (const d of fn.durationsMs) mean += d
      mean /= Math.max(1, fn.durationsMs.length)
      reserved = reservationFor(fs.guarantee, slo, mean, concurrency, maxScale).instances
      gate = new GuaranteeGate(fs.guarantee)
    }
    const scaler = createScaler({ kind: o.scaler, concurrency, maxScale, slo, sloSettings: o.sloSettings, kpa: o.kpa, fixedInstances: o.fixedInstances, warmPrice })
    const planner = new FunctionPlanner({ name: fn.id, concurrency, maxScale, scaler, weight: fs.weight ?? 8, reservedInstances: reserved, minCpuShare: o.minCpuShare })
    box?.add(planner)
    const spawnLog: SpawnRecord[] = []
    spawnLogs.push(spawnLog)
    pools.push(new SimPool({ planner, box, gate, clock, keepAliveMs: o.keepAliveMs, coldStartMs: o.coldStartMs, starts, sharedStarts, startGate, waitMs: slo.waitMs, spawnLog: o.spawnLog === true ? spawnLog : undefined }, fn.arrivalsMs, fn.durationsMs))
    gates.push(gate)
  }
  for (const p of pools) p.start()
  const probe: Array<{ atMs: number; instanceSeconds: number; spawns: number }> = []
  const every = o.probeEveryMs ?? 0
  if (every > 0) {
    const sample = (): void => {
      let is = 0
      let sp = 0
      for (const p of pools) { is += p.totals().instanceSeconds; sp += p.spawns }
      probe.push({ atMs: clock.now(), instanceSeconds: is, spawns: sp })
      if (clock.now() + every <= trace.durationMs) clock.setTimeout(sample, every)
    }
    clock.setTimeout(sample, every)
  }

  // Heap of (next arrival time, function index).
  const cursor = new Uint32Array(pools.length)
  const heapT: number[] = []
  const heapF: number[] = []
  const push = (t: number, f: number): void => {
    heapT.push(t); heapF.push(f)
    let i = heapT.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if ((heapT[p] ?? 0) <= t) break
      heapT[i] = heapT[p] ?? 0; heapF[i] = heapF[p] ?? 0
      i = p
    }
    heapT[i] = t; heapF[i] = f
  }
  const pop = (): void => {
    const lt = heapT.pop() ?? 0
    const lf = heapF.pop() ?? 0
    const n = heapT.length
    if (n === 0) return
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const m = r < n && (heapT[r] ?? 0) < (heapT[l] ?? 0) ? r : l
      if ((heapT[m] ?? 0) >= lt) break
      heapT[i] = heapT[m] ?? 0; heapF[i] = heapF[m] ?? 0
      i = m
    }
    heapT[i] = lt; heapF[i] = lf
  }
  trace.functions.forEach((fn, f) => { if (fn.arrivalsMs.length > 0) push(fn.arrivalsMs[0] ?? 0, f) })

  const outstanding = (): boolean => pools.some((p) => p.view.inFlight + p.view.waiting > 0)
  for (;;) {
    const ta = heapT.length > 0 ? (heapT[0] ?? Infinity) : Infinity
    const tt = clock.peek()
    if (ta === Infinity) {
      // Past the last arrival: run timers to the trace's end, and beyond it only while requests are outstanding.
      if (tt === Infinity || (tt > trace.durationMs && (!outstanding() || tt > trace.durationMs + (o.drainMs ?? 3_600_000)))) break
      clock.step()
      continue
    }
    if (tt <= ta) { clock.step(); continue }
    clock.moveTo(ta)
    const f = heapF[0] ?? 0
    const k = cursor[f] ?? 0
    cursor[f] = k + 1
    pop()
    const arr = trace.functions[f]?.arrivalsMs
    if (arr !== undefined && k + 1 < arr.length) push(arr[k + 1] ?? 0, f)
    pools[f]?.arrive(k)
  }
  clock.moveTo(trace.durationMs)
  const endMs = clock.now()
  box?.stop()
  if (overloadFrom >= 0) overloadSpans.push([overloadFrom, endMs])

  // Outcomes.
  let total = 0
  for (const fn of trace.functions) total += fn.arrivalsMs.length
  const lat = new Float32Array(total)
  const wait = new Float32Array(total)
  let served = 0
  let rejected = 0
  let within = 0
  let gReq = 0
  let gWithin = 0
  let instSec = 0
  let cpuSec = 0
  let spawns = 0
  const perFunction: FunctionSimResult[] = []
  const overloadShare: number[] = []
  pools.forEach((p, f) => {
    const fn = trace.functions[f]
    if (fn === undefined) return
    const slo = o.functions?.get(fn.id)?.slo ?? o.slo
    const out = p.out
    let fWithin = 0
    let fg = 0
    let fgWithin = 0
    let oReq = 0
    let oWithin = 0
    let span = 0
    for (let i = 0; i < fn.arrivalsMs.length; i++) {
      const w = out.waitMs[i] ?? NaN
      const ok = w <= slo.waitMs
      if (Number.isNaN(w)) rejected++
      else { lat[served] = out.latencyMs[i] ?? 0; wait[served] = w; served++ }
      if (ok) fWithin++
      if (out.guaranteed[i] === 1) { fg++; if (ok) fgWithin++ }
      const t = fn.arrivalsMs[i] ?? 0
      while (span < overloadSpans.length && (overloadSpans[span]?.[1] ?? 0) < t) span++
      const s = overloadSpans[span]
      if (s !== undefined && t >= s[0] && t <= s[1]) { oReq++; if (ok) oWithin++ }
    }
    if (oReq > 0) overloadShare.push(oWithin / oReq)
    within += fWithin
    gReq += fg
    gWithin += fgWithin
    const tot = p.totals()
    instSec += tot.instanceSeconds
    cpuSec += tot.cpuSeconds
    spawns += p.spawns
    perFunction.push({ id: fn.id, requests: fn.arrivalsMs.length, rejected: p.rejected, withinSlo: fWithin, spawns: p.spawns, maxInstances: p.maxInstances, instanceSeconds: tot.instanceSeconds, cpuSeconds: tot.cpuSeconds, guaranteedRequests: fg, guaranteedWithinSlo: fgWithin, ...(o.keepOutcomes === true ? { outcome: out } : {}), ...(o.spawnLog === true ? { spawnLog: spawnLogs[f] ?? [] } : {}) })
  })
  const latS = lat.subarray(0, served).sort()
  const waitS = wait.subarray(0, served).sort()
  const realloc = (box?.overloads ?? []).map((x) => x.allocatedAt - x.startedAt).sort((a, b) => a - b)
  let overloadMs = 0
  for (const [a, b] of overloadSpans) overloadMs += b - a
  return {
    model: 'request',
    scaler: o.scaler,
    trace: trace.source,
    traceFormat: trace.format,
    traceHow: trace.how,
    functions: trace.functions.length,
    requests: total,
    rejected,
    sloAttainment: total === 0 ? 1 : within / total,
    slo: o.slo,
    latencyMsP50: quantile(latS, 0.5),
    latencyMsP95: quantile(latS, 0.95),
    latencyMsP99: quantile(latS, 0.99),
    waitMsP50: quantile(waitS, 0.5),
    waitMsP95: quantile(waitS, 0.95),
    waitMsP99: quantile(waitS, 0.99),
    spawns,
    instanceSeconds: instSec,
    cpuSeconds: cpuSec,
    meanInstances: endMs > 0 ? instSec / (endMs / 1000) : 0,
    guaranteedRequests: gReq,
    guaranteedWithinSlo: gWithin,
    overloadSeconds: overloadMs / 1000,
    overloads: box?.overloads.length ?? 0,
    jainUnderOverload: overloadShare.length > 0 ? jainIndex(overloadShare) : null,
    reallocationMsP50: realloc.length > 0 ? quantile(Float32Array.from(realloc), 0.5) : undefined,
    reallocationMsMax: realloc.length > 0 ? realloc[realloc.length - 1] : undefined,
    perFunction,
    ...(warmPrice !== undefined ? { warmPriceSteps: warmPrice.steps } : {}),
    ...(every > 0 ? { probe } : {}),
    simSeconds: (performance.now() - t0) / 1000,
    simulatedSeconds: endMs / 1000,
    heapMb: process.memoryUsage().heapUsed / 2 ** 20
  }
}

/**
 * The box's feedback price for the SLO sizer (one for all functions, as the live pool's Capacity makes), bounded by
 * two sizer periods and the keep-alive; undefined when the run has no attainment target.
 */
export function boxWarmPrice (o: Pick<RequestSimOptions, 'scaler' | 'sloSettings' | 'keepAliveMs' | 'warmPrice'>): WarmPrice | undefined {
  const s = { ...SLO_DEFAULTS, ...o.sloSettings }
  if (o.scaler !== 'slo' || !(s.attainmentTarget > 0)) return undefined
  const min = 2 * s.periodMs / 1000
  return new WarmPrice({ ...BOX_WARM_PRICE, ...o.warmPrice, minSeconds: min, maxSeconds: Math.max(min, o.keepAliveMs / 1000) })
}

/** Nearest-rank quantile of a sorted array (NaN when empty). */
export function quantile (sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i] ?? NaN
}
