/**
 * A workload trace binned to minutes, whatever file format it came from. Series are sparse (only minutes with
 * arrivals) so a full Azure day of tens of thousands of functions stays small.
 */
export type TraceFormat = 'azure2019' | 'azure2021' | 'ulb'

export interface FunctionSeries {
  /** Stable id: the hashes joined with '/', or `node-<id>` for the sensor trace. */
  id: string
  /** Azure trigger (timer, http, ...) where the trace has one. */
  trigger: string | undefined
  /** Minutes (0-based from the trace start) with at least one arrival, ascending. */
  minutes: Uint32Array
  /** Arrivals in each of those minutes (same length as `minutes`). */
  counts: Uint32Array
  /** Average execution time of one invocation. */
  durationMs: number
  /** Memory one instance holds while loaded. */
  memoryMb: number
}

export interface Trace {
  format: TraceFormat
  /** Where it was read from (a directory or file). */
  source: string
  /** The minute of day (azure2019) or 0 that minute index 0 stands for; for display only. */
  firstMinuteLabel: number
  /** Length of the trace in minutes: the simulator runs minutes 0 .. minutes-1. */
  minutes: number
  functions: FunctionSeries[]
}

/** Options every loader honours. */
export interface LoadOptions {
  /** Memory for functions the trace gives none for. */
  defaultMemoryMb: number
  /** Duration for functions the trace gives none for. */
  defaultDurationMs: number
  /**
   * Which column of Azure 2019 memory.csv to use: 'avg' is AverageAllocatedMb, a number is
   * AverageAllocatedMb_pct<N> (1, 5, 25, 50, 75, 95, 99, 100).
   */
  memoryStat: 'avg' | number
}

export const DEFAULT_LOAD_OPTIONS: Readonly<LoadOptions> = Object.freeze({
  defaultMemoryMb: 128,
  defaultDurationMs: 1000,
  memoryStat: 'avg'
})

/** Builds a sparse series from a dense per-minute map. */
export function seriesFromMap (byMinute: Map<number, number>): { minutes: Uint32Array; counts: Uint32Array } {
  const keys = [...byMinute.keys()].sort((a, b) => a - b)
  const minutes = new Uint32Array(keys.length)
  const counts = new Uint32Array(keys.length)
  keys.forEach((m, i) => { minutes[i] = m; counts[i] = byMinute.get(m) ?? 0 })
  return { minutes, counts }
}

/** Total arrivals in a series. */
export function totalArrivals (fn: FunctionSeries): number {
  let n = 0
  for (const c of fn.counts) n += c
  return n
}
