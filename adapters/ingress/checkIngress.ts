import type { ConfigProblem } from '../../core/config/loadConfig.js'
import type { Config } from '../../core/config/schema.js'
import { checkRoutes } from './routeTable.js'

/**
 * Every start-up check of the ingress part of the config: the routes (filters, templates, response topics,
 * against the dead-letter topic), and the adapter's limits, which must fit together.
 */
export function checkIngress (config: Pick<Config, 'routes' | 'adapter'>): ConfigProblem[] {
  const problems = checkRoutes(config.routes, config.adapter)
  const a = config.adapter
  if (a.maxUnacked < a.maxInFlight) {
    problems.push({ path: ['adapter', 'maxUnacked'], message: `must be at least adapter.maxInFlight (${a.maxInFlight}): every message being handled is also unacknowledged` })
  }
  return problems
}
