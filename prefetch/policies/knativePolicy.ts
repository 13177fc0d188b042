import type { Decision, Policy } from './policy.js'
import { LastArrivalKeepAlive } from './lastArrivalKeepAlive.js'
import { param, resolveParams, type ParamSpecs } from './policyParams.js'

/**
 * Defaults of the Knative Pod Autoscaler (knative/serving config/core/configmaps/autoscaler.yaml):
 * `stable-window: 60s` (scale to zero once the stable window has seen no traffic) and
 * `scale-to-zero-grace-period: 30s` (how long the last pod lingers after that decision).
 */
export const KNATIVE_PARAMS: ParamSpecs = {
  stableWindowSec: { default: 60, min: 6, max: 3600, summary: 'KPA stable window: no traffic for this long triggers scale to zero' },
  scaleToZeroGraceSec: { default: 30, min: 0, max: 3600, summary: 'scale-to-zero-grace-period: the last instance lingers this long' }
}

/**
 * Reactive Knative scaling with min-scale 0: nothing is pre-warmed; after the last arrival the instance lives through
 * the stable window plus the grace period, then scales to zero.
 */
export class KnativePolicy implements Policy {
  readonly name = 'knative'
  readonly params: Readonly<Record<string, number>>
  readonly #keepAlive: LastArrivalKeepAlive

  constructor (given: Readonly<Record<string, number | string>> = {}) {
    this.params = Object.freeze(resolveParams(this.name, KNATIVE_PARAMS, given))
    this.#keepAlive = new LastArrivalKeepAlive((param(this.params, 'stableWindowSec') + param(this.params, 'scaleToZeroGraceSec')) * 1000)
  }

  observe (fn: string, timeMs: number, count: number): void { this.#keepAlive.observe(fn, timeMs, count) }

  decide (fn: string, _nowMs: number): Decision { return this.#keepAlive.decide(fn) }

  stateBytes (fn: string): number { return this.#keepAlive.stateBytes(fn) }
}
