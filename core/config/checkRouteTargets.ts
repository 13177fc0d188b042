import type { Config } from './schema.js'

export interface RouteTargetProblem { path: Array<string | number>; message: string }

/**
 * `routes[].targets` against the rest of the config: not beside `target` (read from the raw file, since
 * `target` has a default), every name defined, none twice, and a function to run when `local` is one of them.
 */
export function checkRouteTargets (config: Readonly<Config>, raw: Readonly<Record<string, unknown>>): RouteTargetProblem[] {
  const problems: RouteTargetProblem[] = []
  const rawRoutes = Array.isArray(raw.routes) ? raw.routes as unknown[] : []
  const defined = ['local', ...Object.keys(config.targets)]
  config.routes.forEach((route, i) => {
    if (route.targets === undefined) return
    const rawRoute = rawRoutes[i]
    if (rawRoute !== null && typeof rawRoute === 'object' && (rawRoute as Record<string, unknown>).target !== undefined) {
      problems.push({ path: ['routes', i, 'targets'], message: 'set target or targets, not both' })
    }
    const seen = new Set<string>()
    route.targets.forEach((name, k) => {
      if (!defined.includes(name)) problems.push({ path: ['routes', i, 'targets', k], message: `no target named "${name}" under targets (defined: ${defined.join(', ')})` })
      else if (seen.has(name)) problems.push({ path: ['routes', i, 'targets', k], message: `"${name}" is listed twice` })
      seen.add(name)
    })
    if (route.targets.includes('local') && config.functions[route.function] === undefined) {
      const names = Object.keys(config.functions)
      problems.push({ path: ['routes', i, 'function'], message: `no function named "${route.function}" under functions (defined: ${names.length === 0 ? 'none' : names.join(', ')})` })
    }
  })
  return problems
}
