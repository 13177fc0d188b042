import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../core/config/loadConfig.js'
import { IotlessError } from '../../core/errors.js'
import { RouteTable } from '../../adapters/ingress/routeTable.js'
import { PlacementTarget } from '../../adapters/placement/placementTarget.js'
import { buildTargets } from '../../cli/buildTargets.js'
import type { Target } from '../../adapters/target.js'

const HEAD = `
functions:
  detect: { module: text-detect, concurrency: 2, maxScale: 3 }
targets:
  cloud: { kind: knative, url: 'http://127.0.0.1:1/{function}', connections: 16 }
routes:
`

function write (t: Test, text: string): string {
  const file = join(t.testdir(), 'iotless.yaml')
  writeFileSync(file, HEAD + text)
  return file
}

function problems (t: Test, text: string): string {
  try {
    loadConfig({ file: write(t, text), env: {} })
  } catch (err) {
    t.ok(err instanceof IotlessError && err.code === 'CONFIG_INVALID', 'CONFIG_INVALID')
    return (err as Error).message
  }
  t.fail('the config loaded')
  return ''
}

t.test('a route with targets: defaults, the route table and the placement target built for it', async (t) => {
  const { config } = loadConfig({ file: write(t, `  - { topic: cam/+/frame, function: detect, targets: [local, cloud] }
  - { topic: a/b, function: detect, target: cloud }
  - { topic: c/d, function: detect, targets: [cloud, local], placement: ordered, explore: 0 }
`), env: {} })
  const r = config.routes[0]
  t.same([r?.targets, r?.placement, r?.explore], [['local', 'cloud'], undefined, undefined], 'placement and explore stay unset (defaults applied where used)')
  const table = new RouteTable(config.routes)
  t.equal(table.routes[0]?.target, 'routes[0]:local|cloud')
  t.equal(table.routes[1]?.target, 'cloud', 'a single target keeps working')
  const local: Target = { kind: 'local', dispatch: async () => ({ status: 'ok' }), close: async () => {} }
  const targets = buildTargets(config, '/', {}, local)
  t.teardown(async () => { await Promise.all([...targets.values()].map((x) => x.close())) })
  const p = targets.get('routes[0]:local|cloud')
  t.ok(p instanceof PlacementTarget)
  t.same((p as PlacementTarget).tiers.map((x) => [x.name, x.slots, x.perInstance]), [['local', 6, 2], ['cloud', 16, undefined]])
  t.ok(targets.get('routes[2]:cloud|local') instanceof PlacementTarget)
  for (const route of table.routes) t.ok(targets.has(route.target), `${route.label} has its target`)
})

t.test('bad targets stop start-up, naming the field', async (t) => {
  t.match(problems(t, '  - { topic: a/b, function: detect, target: cloud, targets: [local, cloud] }\n'), /routes\[0\]\.targets: set target or targets, not both/)
  t.match(problems(t, '  - { topic: a/b, function: detect, target: local, targets: [local] }\n'), /routes\[0\]\.targets: set target or targets, not both/, 'even target: local')
  t.match(problems(t, '  - { topic: a/b, function: detect, targets: [local, edge-gpu] }\n'), /routes\[0\]\.targets\[1\]: no target named "edge-gpu" under targets \(defined: local, cloud\)/)
  t.match(problems(t, '  - { topic: a/b, function: detect, targets: [] }\n'), /routes\[0\]\.targets/)
  t.match(problems(t, '  - { topic: a/b, function: detect, targets: [cloud, cloud] }\n'), /routes\[0\]\.targets\[1\]: "cloud" is listed twice/)
  t.match(problems(t, '  - { topic: a/b, function: nope, targets: [local, cloud] }\n'), /routes\[0\]\.function: no function named "nope"/)
  t.match(problems(t, '  - { topic: a/b, function: detect, targets: [local], placement: random }\n'), /routes\[0\]\.placement/)
  t.match(problems(t, '  - { topic: a/b, function: detect, targets: [local], explore: 0.9 }\n'), /routes\[0\]\.explore/)
})

t.test('a remote-only multi-tier route needs no local function', async (t) => {
  const { config } = loadConfig({ file: write(t, '  - { topic: a/b, function: remote-fn, targets: [cloud] }\n'), env: {} })
  t.same(config.routes[0]?.targets, ['cloud'])
})
