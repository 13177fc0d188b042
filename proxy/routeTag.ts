/**
 * Knative's route tag of a request, as serving pkg/queue/routetag_handler.go reads it (GetRouteTagNameFromRequest):
 * the `kn.route.tag` attribute of the queue-proxy's HTTP server metrics and request span. `tag` and
 * `defaultRoute` are the first Knative-Serving-Tag and Knative-Serving-Default-Route values, '' when absent.
 * (Knative ≤ 1.18 reported the same cases as DEFAULT, UNDEFINED and DISABLED in a `route_tag` label.)
 */
export function routeTagOf (tag: string, defaultRoute: string): string {
  if (tag === '') {
    // No tag header and no default-route header: tag-header based routing is off.
    return defaultRoute === '' ? 'kn:disabled' : 'kn:default'
  }
  // A tag header on a request routed through the default route: a tag that names no route.
  if (defaultRoute === 'true') return 'kn:undefined'
  return tag
}
