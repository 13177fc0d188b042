import { MINUTE_MS, RELEASE, minuteOf, type Decision, type Policy } from './policy.js'
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
  readonly #keepAliveMs: number
  readonly #lastMinute = new Map<string, number>()

  constructor (given: Readonly<Record<string, number | string>> = {}) {
    this.params = Object.freeze(resolveParams(this.name, FIXED_PARAMS, given))
    this.#keepAliveMs = param(this.params, 'keepAliveMin') * MINUTE_MS
  }

  observe (fn: string, timeMs: number, count: number): void {
    if (count <= 0) return
    const m = minuteOf(timeMs)
    if (m > (this.#lastMinute.get(fn) ?? -1)) this.#lastMinute.set(fn, m)
  }

  decide (fn: string, _nowMs: number): Decision {
    const last = this.#lastMinute.get(fn)
    if (last === undefined) return RELEASE
    const endMs = (last + 1) * MINUTE_MS
    return { prewarmAt: last * MINUTE_MS, keepAliveUntil: endMs + this.#keepAliveMs, instances: 1 }
  }

  stateBytes (fn: string): number { return this.#lastMinute.has(fn) ? 8 : 0 }
}
