import { KpaScaler, type KpaSettings } from './kpaScaler.js'
import { FixedScaler, ReactiveScaler, type Scaler, type ScalerKind } from './scaler.js'
import { SloScaler, type Slo, type SloSettings } from './sloScaler.js'
import type { WarmPrice } from './warmPrice.js'

export const SCALER_KINDS: readonly ScalerKind[] = ['reactive', 'kpa', 'fixed', 'slo']

export interface ScalerSpec {
  kind: ScalerKind
  concurrency: number
  maxScale: number
  /** For `slo`. */
  slo?: Slo | undefined
  sloSettings?: Partial<SloSettings> | undefined
  kpa?: Partial<KpaSettings> | undefined
  /** For `fixed`: instances to hold (default maxScale). */
  fixedInstances?: number | undefined
  /** For `slo` with sloSettings.attainmentTarget > 0: the box's feedback price, shared by its functions. */
  warmPrice?: WarmPrice | undefined
}

/** The scaler a spec names; `slo` without an objective uses LaSS's, 100 ms at p95. */
export function createScaler (s: ScalerSpec): Scaler {
  switch (s.kind) {
    case 'reactive': return new ReactiveScaler(s.concurrency)
    case 'fixed': return new FixedScaler(Math.min(s.maxScale, s.fixedInstances ?? s.maxScale))
    case 'kpa': return new KpaScaler(s.concurrency, s.maxScale, s.kpa)
    case 'slo': return new SloScaler(s.slo ?? { waitMs: 100, percentile: 0.95 }, s.concurrency, s.maxScale, s.sloSettings, s.warmPrice)
  }
}
