import { MINUTE_MS, type Policy } from '../../../prefetch/policies/policy.js'
import type { Trace } from '../../../prefetch/traces/trace.js'

/** The first step at which two policies disagreed, or undefined when they never did. */
export interface Mismatch {
  minute: number
  fn: string
  what: string
  a: unknown
  b: unknown
}

export interface Comparison {
  steps: number
  mismatch: Mismatch | undefined
}

/**
 * Runs `a` and `b` side by side over `trace` with exactly the calls the simulator makes (register every function;
 * then, minute by minute and function by function, observe the previous minute's arrivals and decide) and compares
 * every decision field by field (prewarmAt, keepAliveUntil, instances, with Object.is, so -0 and NaN count), and, once
 * a function has state, its state size. `extra(fn)` may add named values to compare per step (e.g. a policy's plan).
 * Stops at the first difference.
 */
export function compareDecisions (trace: Trace, a: Policy, b: Policy, extra?: (p: Policy, fn: string) => Record<string, unknown>): Comparison {
  for (const f of trace.functions) {
    const info = { memoryMb: f.memoryMb, durationMs: f.durationMs, trigger: f.trigger }
    a.register?.(f.id, info)
    b.register?.(f.id, info)
  }
  const cursor = new Uint32Array(trace.functions.length)
  let steps = 0
  for (let m = 0; m < trace.minutes; m++) {
    for (let i = 0; i < trace.functions.length; i++) {
      const f = trace.functions[i]
      if (f === undefined) continue
      const c = cursor[i] ?? 0
      const prev = c > 0 && f.minutes[c - 1] === m - 1 ? (f.counts[c - 1] ?? 0) : 0
      if (prev > 0) {
        a.observe(f.id, (m - 1) * MINUTE_MS, prev)
        b.observe(f.id, (m - 1) * MINUTE_MS, prev)
      }
      const da = a.decide(f.id, m * MINUTE_MS)
      const db = b.decide(f.id, m * MINUTE_MS)
      steps++
      for (const k of ['prewarmAt', 'keepAliveUntil', 'instances'] as const) {
        if (!Object.is(da[k], db[k])) return { steps, mismatch: { minute: m, fn: f.id, what: k, a: da[k], b: db[k] } }
      }
      const sa = a.stateBytes(f.id)
      const sb = b.stateBytes(f.id)
      if (sa !== sb) return { steps, mismatch: { minute: m, fn: f.id, what: 'stateBytes', a: sa, b: sb } }
      if (extra !== undefined) {
        const xa = extra(a, f.id)
        const xb = extra(b, f.id)
        for (const k of Object.keys(xa)) {
          if (JSON.stringify(xa[k]) !== JSON.stringify(xb[k])) return { steps, mismatch: { minute: m, fn: f.id, what: k, a: xa[k], b: xb[k] } }
        }
      }
      if (c < f.minutes.length && f.minutes[c] === m) cursor[i] = c + 1
    }
  }
  return { steps, mismatch: undefined }
}

/** Defaults, and settings that reach the branches the defaults do not. */
export const EQUIVALENCE_VARIANTS: Array<Record<string, number>> = [
  {},
  { priorTailShape: 2 }, // own tail by the recurrence (shape != 1)
  { priorTailShape: 0 }, // no tails
  { tailPseudoCount: 0 },
  { priorWeight: 0 },
  { jitterSamples: 0 },
  { slackThreshold: 0 },
  { priorRangeMin: 20, historySize: 8 }, // idle times past the prior's range; a full small ring
  { memoryBudgetMb: 5000 }, // the budget price and its re-plans (the price reaches 28 on both a19 slices)
  { memoryExponent: 1, hazardThreshold: 0.02, targetPercentile: 50 },
  { priorMinFunctions: 0, defaultKeepAliveMin: 0 }
]
