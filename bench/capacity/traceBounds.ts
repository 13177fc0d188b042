import { simulateRequests, type RequestSimOptions, type RequestSimResult } from '../../adapters/runtime/sim/requestSim.js'
import type { RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'

export interface TraceBounds {
  requests: number
  /** The first request of each function: no causal scaler starting from zero serves it warm. */
  firstOfFunction: number
  /** Requests more than 10 minutes after the previous one of their function. */
  afterTenMinutes: number
  /** Requests arriving while another of their function is still being served (they need a second instance). */
  overlapping: number
  /** Sum of service times, s: what an oracle that starts an instance exactly a cold start ahead of each request pays, plus the cold starts. */
  oracleInstanceSeconds: number
}

/** What a trace allows: an oracle's cost for 100% within the SLO, and what no causal scaler can serve warm. */
export function traceBounds (trace: RequestTrace, coldStartMs: number): TraceBounds {
  let requests = 0
  let after10 = 0
  let overlapping = 0
  let busyMs = 0
  for (const f of trace.functions) {
    const ends: number[] = []
    for (let i = 0; i < f.arrivalsMs.length; i++) {
      const a = f.arrivalsMs[i] ?? 0
      const d = f.durationsMs[i] ?? 0
      requests++
      busyMs += d + coldStartMs
      if (i > 0 && a - (f.arrivalsMs[i - 1] ?? 0) > 600_000) after10++
      if (ends.some((e) => e > a)) overlapping++
      ends.push(a + d)
      if (ends.length > 64) ends.shift()
    }
  }
  return { requests, firstOfFunction: trace.functions.length, afterTenMinutes: after10, overlapping, oracleInstanceSeconds: busyMs / 1000 }
}

/** Markdown: the bounds for Azure 2021 beside the KPA-like run, and today's pool never stopping an instance. */
export function bounds21 (trace: RequestTrace, kpa: RequestSimResult, base: Partial<RequestSimOptions> = {}): string[] {
  const cold = base.coldStartMs ?? 250
  const b = traceBounds(trace, cold)
  const forever = simulateRequests(trace, { ...base, scaler: 'reactive', keepAliveMs: Infinity })
  const pct = (n: number): string => (100 * n / Math.max(1, b.requests)).toFixed(1) + '%'
  return [
    'What Azure 2021 allows (computed from the trace):', '',
    `- ${b.requests} requests of ${b.firstOfFunction} functions: ${pct(b.firstOfFunction)} are their function's first (no causal scaler that starts from zero serves them warm), ` +
      `${pct(b.afterTenMinutes)} come more than 10 minutes after their function's previous one, ${pct(b.overlapping)} arrive while another of their function is in service (a second instance).`,
    `- An oracle that knows the arrivals starts an instance a cold start ahead of each request: 100% within the SLO at ${b.oracleInstanceSeconds.toFixed(0)} instance-seconds, ${(b.oracleInstanceSeconds / kpa.instanceSeconds).toFixed(2)}x KPA's.`,
    `- Today's pool never stopping an instance (keep-alive infinite: the most today's pool can get from keeping what it started): ${(100 * forever.sloAttainment).toFixed(2)}% within at ${(forever.instanceSeconds / kpa.instanceSeconds).toFixed(2)}x KPA's instance-seconds.`,
    ''
  ]
}
