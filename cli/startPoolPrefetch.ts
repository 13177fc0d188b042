import type { Clock } from '../core/clock.js'
import type { Config } from '../core/config/schema.js'
import type { Logger } from '../core/log.js'
import type { Target } from '../adapters/target.js'
import type { LocalTarget } from '../adapters/runtime/localTarget.js'
import { ArrivalRecordingTarget } from '../prefetch/live/arrivalRecordingTarget.js'
import { LivePrefetcher } from '../prefetch/live/livePrefetcher.js'
import { createPolicy } from '../prefetch/policies/policies.js'
import { PoolActuator } from '../prefetch/actuators/poolActuator.js'

export interface PoolPrefetchOptions {
  config: Readonly<Config['prefetch']>
  target: LocalTarget
  functions: Readonly<Config['functions']>
  clock: Clock
  log: Logger
}

/**
 * The in-process prefetch of `iotless up`: the policy named in the config, arrivals counted by a recording
 * Target in front of the local pool, decisions applied to the pools' warm floors. Undefined when disabled.
 * The adapter must dispatch through the returned `target`.
 */
export function startPoolPrefetch (opts: PoolPrefetchOptions): { prefetcher: LivePrefetcher; target: Target } | undefined {
  const { config } = opts
  if (!config.enabled) return undefined
  const policy = createPolicy(config.policy, config.params)
  const prefetcher = new LivePrefetcher({
    policy,
    actuator: new PoolActuator(opts.target.pools.values()),
    clock: opts.clock,
    log: opts.log,
    functions: Object.keys(opts.functions),
    minuteMs: config.minuteMs,
    leadMs: config.leadMs
  })
  const target = new ArrivalRecordingTarget(opts.target, (fn, n) => prefetcher.record(fn, n))
  prefetcher.start()
  opts.log.info({ policy: policy.name, params: policy.params, minuteMs: prefetcher.minuteMs }, 'prefetch: pre-warming the local pool')
  return { prefetcher, target }
}
