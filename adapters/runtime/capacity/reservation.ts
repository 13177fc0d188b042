import { serversNeeded } from './erlangC.js'
import type { Guarantee } from './guaranteeGate.js'
import type { Slo } from './sloScaler.js'

export interface Reservation {
  /** Instances the guarantee needs. */
  instances: number
  /** False when maxScale instances cannot hold it; `reason` gives the numbers. */
  met: boolean
  reason: string
}

/**
 * Instances a guarantee needs so that its invocations wait at most slo.waitMs at slo.percentile: the M/M/c c at
 * the guaranteed rate, and enough slots that a full burst arriving at once is started within waitMs
 * (burst / (1 + waitMs / serviceMs) slots: each slot serves 1 + waitMs / serviceMs of them in time).
 */
export function reservationFor (g: Guarantee, slo: Slo, serviceMs: number, concurrency: number, maxScale: number): Reservation {
  const maxSlots = maxScale * concurrency
  const need = serversNeeded(g.ratePerSec, serviceMs, slo.waitMs, slo.percentile, maxSlots)
  const burstSlots = Math.ceil(g.burst / (1 + slo.waitMs / serviceMs))
  const slots = Math.max(need.servers, burstSlots)
  const instances = Math.ceil(slots / concurrency)
  if (!need.met || instances > maxScale) {
    const cap = maxSlots * 1000 / serviceMs
    return {
      instances: maxScale,
      met: false,
      reason: `${g.ratePerSec}/s with burst ${g.burst} at ${serviceMs} ms per invocation needs ${need.met ? instances : `more than ${maxScale}`} instances to wait <= ${slo.waitMs} ms at p${slo.percentile * 100}; maxScale ${maxScale} x concurrency ${concurrency} serves at most ${cap.toFixed(1)}/s`
    }
  }
  return { instances, met: true, reason: '' }
}
