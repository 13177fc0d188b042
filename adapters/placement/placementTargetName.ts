/**
 * The name under which a multi-tier route's PlacementTarget sits in the adapter's target map, e.g.
 * `routes[0]:local|cloud`: one per route (its predictor and metrics are the route's), and readable in a dead letter.
 */
export function placementTargetName (routeIndex: number, targets: readonly string[]): string {
  return `routes[${routeIndex}]:${targets.join('|')}`
}
