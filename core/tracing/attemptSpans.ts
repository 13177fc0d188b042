import type { StageSpan } from './messageTracer.js'

/** What a placement decision tells about one tier it tried (adapters/placement's PlacementRecord, in part). */
export interface TierTry { eventId: string | undefined; tier: string; reason: string; predictedMs: number; measuredMs: number; ok: boolean }

/**
 * The dispatch-attempt spans open right now, by CloudEvent id (a batch: its first event's). A multi-tier
 * route's placement (adapters/placement) reports each tier it tries during an attempt here, and the
 * attempt's span gets the tier and the decision (docs/tracing.md), without the placement knowing of spans.
 */
export class AttemptSpans {
  readonly #open = new Map<string, { span: StageSpan; tried: number; failed: number }>()

  /** Open attempts (for tests). */
  get size (): number { return this.#open.size }

  open (eventId: string, span: StageSpan): void { this.#open.set(eventId, { span, tried: 0, failed: 0 }) }

  close (eventId: string, span: StageSpan): void {
    if (this.#open.get(eventId)?.span === span) this.#open.delete(eventId)
  }

  /** One tier tried for the attempt open for `r.eventId` (the last one tried is the one that answered); none open: nothing. */
  placed (r: TierTry): void {
    if (r.eventId === undefined) return
    const o = this.#open.get(r.eventId)
    if (o === undefined) return
    o.tried++
    const s = o.span
    s.set('iotless.tier', r.tier)
    s.set('iotless.placement.reason', r.reason)
    s.set('iotless.placement.predicted_ms', Math.round(r.predictedMs * 1000) / 1000)
    s.set('iotless.placement.measured_ms', Math.round(r.measuredMs * 1000) / 1000)
    s.set('iotless.placement.tiers_tried', o.tried)
    if (!r.ok) s.set('iotless.placement.failed_tiers', ++o.failed)
  }
}
