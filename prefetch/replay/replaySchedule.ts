import type { Trace } from '../traces/trace.js'

export interface ScheduleOptions {
  /** First trace minute replayed (0-based in the trace). */
  startMinute: number
  /** Trace minutes replayed. */
  minutes: number
  /** Functions replayed (at most). */
  functions: number
  /** `busiest`: most active minutes in the window; `intermittent`: active in 5-70 % of its minutes, most active first. */
  select: 'busiest' | 'intermittent'
  /** Per-function arrivals per minute are capped at this (the message rate a 1-2 minute run can carry). */
  maxPerMinute: number
}

export interface ReplayEvent {
  /** Trace time of the arrival, ms from the window's start. */
  traceMs: number
  /** Index into `functions`. */
  fn: number
}

export interface ReplaySchedule {
  /** Trace ids of the functions replayed; function i runs as `r<i>`. */
  functions: string[]
  events: ReplayEvent[]
  minutes: number
  /** Arrivals the cap removed. */
  capped: number
}

/** A stable phase in [0, 1) per function id, so arrivals of different functions do not all fall on one instant. */
export function phaseOf (id: string): number {
  let h = 2166136261
  for (let i = 0; i < id.length; i++) { h ^= id.charCodeAt(i); h = Math.imul(h, 16777619) >>> 0 }
  return (h % 1000) / 1000
}

/**
 * The arrivals of a window of a trace, in time order. Traces are binned to minutes (the loaders of the simulator
 * are reused), so the c arrivals of a minute are spread evenly over it: the k-th at (k + phase) / c of the minute,
 * with a per-function phase. The sensor trace's and Azure 2021's sub-minute times are therefore not kept.
 */
export function buildSchedule (trace: Trace, o: ScheduleOptions): ReplaySchedule {
  const end = Math.min(trace.minutes, o.startMinute + o.minutes)
  const scored = trace.functions.map((f) => {
    let active = 0
    for (let i = 0; i < f.minutes.length; i++) {
      const m = f.minutes[i] ?? 0
      if (m >= o.startMinute && m < end) active++
    }
    return { f, active }
  }).filter((x) => x.active > 0)
  const span = Math.max(1, end - o.startMinute)
  const pool = o.select === 'intermittent' ? scored.filter((x) => x.active / span >= 0.05 && x.active / span <= 0.7) : scored
  pool.sort((a, b) => b.active - a.active || (a.f.id < b.f.id ? -1 : 1))
  const chosen = pool.slice(0, o.functions).map((x) => x.f)
  const events: ReplayEvent[] = []
  let capped = 0
  chosen.forEach((f, fi) => {
    const phase = phaseOf(f.id)
    for (let i = 0; i < f.minutes.length; i++) {
      const m = f.minutes[i] ?? 0
      if (m < o.startMinute || m >= end) continue
      const c = f.counts[i] ?? 0
      const n = Math.min(c, o.maxPerMinute)
      capped += c - n
      for (let k = 0; k < n; k++) events.push({ traceMs: (m - o.startMinute + (k + phase) / n) * 60_000, fn: fi })
    }
  })
  events.sort((a, b) => a.traceMs - b.traceMs || a.fn - b.fn)
  return { functions: chosen.map((f) => f.id), events, minutes: end - o.startMinute, capped }
}

/**
 * The replayed window as a trace (the chosen functions, minutes from the window's start, capped counts), so the
 * simulator can predict what the replay measures.
 */
export function scheduleTrace (trace: Trace, s: ReplaySchedule): Trace {
  const byId = new Map(trace.functions.map((f) => [f.id, f]))
  const perFn = s.functions.map(() => new Map<number, number>())
  for (const e of s.events) {
    const m = perFn[e.fn]
    if (m === undefined) continue
    const minute = Math.floor(e.traceMs / 60_000)
    m.set(minute, (m.get(minute) ?? 0) + 1)
  }
  return {
    format: trace.format,
    source: `${trace.source} (replay window)`,
    firstMinuteLabel: 0,
    minutes: s.minutes,
    functions: s.functions.map((id, i) => {
      const f = byId.get(id)
      const keys = [...(perFn[i] ?? new Map<number, number>()).keys()].sort((a, b) => a - b)
      return {
        id,
        trigger: f?.trigger,
        minutes: Uint32Array.from(keys),
        counts: Uint32Array.from(keys.map((k) => perFn[i]?.get(k) ?? 0)),
        durationMs: f?.durationMs ?? 1000,
        memoryMb: f?.memoryMb ?? 128
      }
    })
  }
}
