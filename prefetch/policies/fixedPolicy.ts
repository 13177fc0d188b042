import { MINUTE_MS, type Decision, type Policy } from './policy.js'
import { LastArrivalKeepAlive } from './lastArrivalKeepAlive.js'
import { param, resolveParams, type ParamSpecs } from './policyParams.js'

export const FIXED_PARAMS: ParamSpecs = {
  keepAliveMin: { default: 10, min: 0, max: 10_080, summary: 'minutes an instance stays warm after the minute of its last arrival (OpenWhisk 10, Azure 20)' }
}

/**
 * Fixed keep-alive, the platform default the paper compares against: no pre-warming; after the minute of the last
 * arrival the instance stays loaded for keepAliveMin minutes, then it is released.
 */
export class FixedPolicy implements Policy {
  readonly name = 'fixed'
  readonly params: Readonly<Record<string, number>>
  readonly #keepAlive: LastArrivalKeepAlive

  constructor (given: Readonly<Record<string, number | string>> = {}) {
    this.params = Object.freeze(resolveParams(this.name, FIXED_PARAMS, given))
    this.#keepAlive = new LastArrivalKeepAlive(param(this.params, 'keepAliveMin') * MINUTE_MS)
  }

  observe (fn: string, timeMs: number, count: number): void { this.#keepAlive.observe(fn, timeMs, count) }

  decide (fn: string, _nowMs: number): Decision { return this.#keepAlive.decide(fn) }

  stateBytes (fn: string): number { return this.#keepAlive.stateBytes(fn) }
}
