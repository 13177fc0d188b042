import { createPolicy } from '../policies/policies.js'
import { firstCallFloorP75 } from '../traces/traceWindow.js'
import type { Trace } from '../traces/trace.js'
import { simulate, type SimResult } from './simulate.js'

/** The policies `npm run bench:prefetch` runs at their defaults (fixed at OpenWhisk's 10 minutes). */
export const DEFAULT_RUNS: ReadonlyArray<readonly [string, Readonly<Record<string, number>>]> = [
  ['fixed', { keepAliveMin: 10 }], ['knative', {}], ['hybrid', {}], ['spes', {}], ['faascache', {}], ['iotless', {}]
]

/** How `ours` compares with one baseline on one trace. */
export interface Verdict {
  baseline: string
  /** p75 and wasted memory both no worse, and at least one strictly better. */
  dominates: boolean
  p75Ratio: number
  wasteRatio: number
}

export interface Comparison {
  trace: Trace
  results: SimResult[]
  floorP75: number
  verdicts: Verdict[]
  /** ours p75 <= half of hybrid's, or the floor makes that impossible (floor > half of hybrid's). */
  halfOfHybrid: 'met' | 'missed' | 'floor'
}

function ratio (a: number, b: number): number { return b === 0 ? (a === 0 ? 1 : Infinity) : a / b }

/** Whether `a` Pareto-dominates `b` on (p75 function cold-start %, wasted memory): both no worse, one better. */
export function dominates (a: SimResult, b: SimResult): boolean {
  const p = a.p75FunctionColdStartPct
  const q = b.p75FunctionColdStartPct
  const w = a.wastedMemoryGbSeconds
  const v = b.wastedMemoryGbSeconds
  return p <= q && w <= v && (p < q || w < v)
}

/** Runs every policy of `runs` on `trace` and judges `ours` against the rest, from the results of this run. */
export function compareAtDefaults (trace: Trace, runs = DEFAULT_RUNS, ours = 'iotless'): Comparison {
  const results = runs.map(([p, params]) => simulate(trace, createPolicy(p, params)))
  const me = results.find((r) => r.policy === ours)
  const verdicts: Verdict[] = []
  if (me !== undefined) {
    for (const r of results) {
      if (r === me) continue
      verdicts.push({ baseline: r.policy, dominates: dominates(me, r), p75Ratio: ratio(me.p75FunctionColdStartPct, r.p75FunctionColdStartPct), wasteRatio: ratio(me.wastedMemoryGbSeconds, r.wastedMemoryGbSeconds) })
    }
  }
  const floorP75 = firstCallFloorP75(trace)
  const hybrid = results.find((r) => r.policy === 'hybrid')
  let halfOfHybrid: Comparison['halfOfHybrid'] = 'missed'
  if (me !== undefined && hybrid !== undefined) {
    const half = hybrid.p75FunctionColdStartPct / 2
    if (me.p75FunctionColdStartPct <= half) halfOfHybrid = 'met'
    else if (floorP75 > half) halfOfHybrid = 'floor'
  }
  return { trace, results, floorP75, verdicts, halfOfHybrid }
}
