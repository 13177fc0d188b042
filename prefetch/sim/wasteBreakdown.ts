import type { Trace } from '../traces/trace.js'
import type { SimResult } from './simulate.js'

/** One group of functions, by how many minutes of the trace they were invoked in. */
export interface BreakdownRow {
  /** Active minutes, inclusive range, e.g. "4-10". */
  activeMinutes: string
  functions: number
  /** Functions whose cold-start % is at or under `cutPct` (e.g. the p75 to be reached). */
  atOrUnderCut: number
  /** First calls (one per function with arrivals: no online policy avoids them). */
  firstCalls: number
  /** Cold starts after the first call. */
  laterColdStarts: number
  /** Waste the policy chose (GB-s): its waste minus that of releasing at once after every arrival minute. */
  keepAliveWasteGbSeconds: number
}

const BUCKETS: ReadonlyArray<readonly [number, number]> = [[1, 1], [2, 3], [4, 10], [11, 60], [61, 200], [201, Infinity]]

/**
 * Where a policy's cold starts and chosen waste go: functions grouped by active minutes, with first calls apart from
 * later cold starts, and how many in each group end at or under `cutPct`. `result` and `released` must be runs of
 * the same trace with `perFunction`; `released` is the policy that holds nothing (fixed, keepAliveMin 0), whose
 * waste is the idle part of arrival minutes that every policy pays.
 */
export function wasteBreakdown (trace: Trace, result: SimResult, released: SimResult, cutPct: number): BreakdownRow[] {
  const active = new Map(trace.functions.map((f) => [f.id, f.minutes.length]))
  const base = new Map((released.perFunction ?? []).map((f) => [f.id, f.wastedMemoryGbSeconds]))
  const rows: BreakdownRow[] = BUCKETS.map(([lo, hi]) => ({ activeMinutes: hi === Infinity ? `>${lo - 1}` : lo === hi ? String(lo) : `${lo}-${hi}`, functions: 0, atOrUnderCut: 0, firstCalls: 0, laterColdStarts: 0, keepAliveWasteGbSeconds: 0 }))
  for (const f of result.perFunction ?? []) {
    if (f.invocations <= 0) continue
    const a = active.get(f.id) ?? 0
    const k = BUCKETS.findIndex(([lo, hi]) => a >= lo && a <= hi)
    const row = rows[k]
    if (row === undefined) continue
    row.functions++
    if ((100 * f.coldStarts) / f.invocations <= cutPct + 1e-9) row.atOrUnderCut++
    row.firstCalls++
    row.laterColdStarts += f.coldStarts - 1
    row.keepAliveWasteGbSeconds += f.wastedMemoryGbSeconds - (base.get(f.id) ?? 0)
  }
  return rows.filter((r) => r.functions > 0)
}
