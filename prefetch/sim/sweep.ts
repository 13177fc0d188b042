import { createPolicy } from '../policies/policies.js'
import { simulate, type SimResult } from './simulate.js'
import type { Trace } from '../traces/trace.js'

/** The parameter ranges `iotless sim --sweep` runs: each policy's main knob over a range. */
export const SWEEP_GRID: ReadonlyArray<{ policy: string; params: Record<string, number> }> = [
  ...[1, 2, 5, 10, 20, 30, 60, 120, 240].map((k) => ({ policy: 'fixed', params: { keepAliveMin: k } })),
  ...[6, 30, 60, 120, 300].map((s) => ({ policy: 'knative', params: { stableWindowSec: s } })),
  ...[30, 60, 120, 240].map((r) => ({ policy: 'hybrid', params: { rangeMin: r, fallbackKeepAliveMin: r } })),
  ...[10, 60].map((f) => ({ policy: 'hybrid', params: { fallbackKeepAliveMin: f } })),
  ...[1, 5, 10, 30, 60].map((k) => ({ policy: 'spes', params: { newKeepAliveMin: k } })),
  ...[4000, 8000, 16_000, 32_000, 64_000, 128_000].map((b) => ({ policy: 'faascache', params: { memoryBudgetMb: b } })),
  ...[0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.02].map((h) => ({ policy: 'iotless', params: { hazardThreshold: h } })),
  ...[0, 0.1, 0.5].map((s) => ({ policy: 'iotless', params: { slackThreshold: s } }))
]

export function runSweep (trace: Trace, grid = SWEEP_GRID): SimResult[] {
  return grid.map((g) => simulate(trace, createPolicy(g.policy, g.params), { timeDecisions: false }))
}

/** The points of `results` no other point dominates on (p75 function cold-start %, wasted memory), by p75. */
export function paretoFrontier (results: readonly SimResult[]): SimResult[] {
  const out = results.filter((a) => !results.some((b) => b !== a &&
    b.p75FunctionColdStartPct <= a.p75FunctionColdStartPct && b.wastedMemoryGbSeconds <= a.wastedMemoryGbSeconds &&
    (b.p75FunctionColdStartPct < a.p75FunctionColdStartPct || b.wastedMemoryGbSeconds < a.wastedMemoryGbSeconds)))
  return out.sort((a, b) => a.p75FunctionColdStartPct - b.p75FunctionColdStartPct || a.wastedMemoryGbSeconds - b.wastedMemoryGbSeconds)
}
