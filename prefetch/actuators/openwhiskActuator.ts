import openwhisk from 'openwhisk'
import type { Clock } from '../../core/clock.js'
import { IotlessError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import { WARMUP_PARAM } from '../../functions/sdk/warmup.js'
import type { Actuator, LiveDecision } from './actuator.js'

export interface OpenWhiskActuatorOptions {
  /** A client made with `openwhisk({ apihost, api_key, namespace })`. */
  client: openwhisk.Client
  clock: Clock
  log: Logger
  /** Action name of a function (default: the same name; `pkg/action` works). */
  actionFor?: (fn: string) => string
  /**
   * While instances are wanted, warm-ups are sent again this often, so the invoker's idle-container timeout
   * (10 min by default, contracts section 8) does not take the container. Default 300000 (5 min).
   */
  refreshMs?: number
}

interface FnState { lastWarmupAt: number | undefined; warm: number }

/**
 * OpenWhisk actuator: when the policy wants instances, it invokes the action non-blocking (202 + activation id)
 * with params `{ [WARMUP_PARAM]: true }`, once per wanted instance; the function SDK answers such an invocation
 * right after init without running the handler, so the invoker has a warm container. OpenWhisk has no API to
 * release a container: when the policy wants none, the actuator just stops sending warm-ups and the invoker's idle
 * timeout reaps it. Nothing is changed on the platform, so `close` has nothing to undo.
 */
export class OpenWhiskActuator implements Actuator {
  readonly kind = 'openwhisk'
  readonly #opts: OpenWhiskActuatorOptions
  readonly #fns = new Map<string, FnState>()
  /** Warm-up invocations sent (for reports and tests). */
  warmupsSent = 0

  constructor (opts: OpenWhiskActuatorOptions) {
    this.#opts = opts
  }

  async apply (fn: string, d: LiveDecision): Promise<void> {
    let s = this.#fns.get(fn)
    if (s === undefined) { s = { lastWarmupAt: undefined, warm: 0 }; this.#fns.set(fn, s) }
    const now = this.#opts.clock.now()
    if (d.warm === 0) {
      if (!d.early) { s.lastWarmupAt = undefined; s.warm = 0 }
      return
    }
    const due = s.lastWarmupAt === undefined || d.warm > s.warm || now - s.lastWarmupAt >= (this.#opts.refreshMs ?? 300_000)
    if (!due) return
    const name = this.#opts.actionFor?.(fn) ?? fn
    s.lastWarmupAt = now
    s.warm = d.warm
    const sends: Array<Promise<unknown>> = []
    for (let i = 0; i < d.warm; i++) {
      sends.push(this.#opts.client.actions.invoke({ name, blocking: false, params: { [WARMUP_PARAM]: true } }))
    }
    const results = await Promise.allSettled(sends)
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    this.warmupsSent += results.length - failed.length
    if (failed.length > 0) {
      s.lastWarmupAt = undefined
      const err = failed[0]?.reason as { statusCode?: number; message?: string } | undefined
      throw new IotlessError('PREFETCH_ACTUATOR_FAILED', `warm-up of OpenWhisk action ${name} failed${err?.statusCode === undefined ? '' : ` (HTTP ${err.statusCode})`}: ${err?.message ?? 'unknown error'}`)
    }
    this.#opts.log.debug({ function: fn, action: name, instances: d.warm }, 'openwhisk actuator: warm-up sent')
  }

  close (): Promise<void> { return Promise.resolve() }
}
