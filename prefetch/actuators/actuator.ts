import type { Decision } from '../policies/policy.js'

/**
 * A policy decision for one function in real time (epoch ms), as a live prefetcher hands it to an actuator.
 * `warm` is what the actuator should hold now: `instances` while the window [prewarmAt, keepAliveUntil) covers
 * `nowMs` (pre-warm brought forward by the prefetcher's lead), else 0.
 */
export interface LiveDecision extends Decision {
  nowMs: number
  warm: number
  /** True for the early pass `leadMs` before a minute starts: only pre-warms are sent, never releases. */
  early: boolean
}

/** Turns decisions into actions on a real system (local pool, Knative min-scale, OpenWhisk warm-ups). */
export interface Actuator {
  readonly kind: string
  apply(fn: string, decision: LiveDecision): void | Promise<void>
  /** Undo what the actuator changed (Knative: restore min-scale); called once, on stop. */
  close(): Promise<void>
}

/** Instances wanted at `nowMs`, pre-warming `leadMs` ahead of the decision's prewarmAt. */
export function instancesWanted (d: Decision, nowMs: number, leadMs = 0): number {
  if (d.instances < 1) return 0
  return d.prewarmAt <= nowMs + leadMs && nowMs < d.keepAliveUntil && d.prewarmAt < d.keepAliveUntil ? d.instances : 0
}
