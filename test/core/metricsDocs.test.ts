import t from 'tap'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { Registry } from 'prom-client'
import { createMetrics } from '../../core/metrics.js'
import { repoRoot } from '../helpers/paths.js'

t.test('docs/metrics.md lists every iotless metric, and nothing that does not exist', async (t) => {
  const registry = new Registry()
  createMetrics(registry, { defaultMetrics: false })
  const names = (await registry.getMetricsAsJSON()).map((m) => m.name).sort()
  t.ok(names.length >= 10)
  const doc = readFileSync(resolve(repoRoot, 'docs/metrics.md'), 'utf8')
  const documented = [...doc.matchAll(/^\| `(iotless_[a-z_]+)` \|/gm)].map((m) => m[1] as string).sort()
  t.same(documented, names)
})

t.test('the registry passed in is used, not the global one', async (t) => {
  const a = new Registry()
  const b = new Registry()
  createMetrics(a, { defaultMetrics: false })
  createMetrics(b, { defaultMetrics: false })
  t.pass('two metric sets on two registries do not collide')
  t.equal((await a.getMetricsAsJSON()).length, (await b.getMetricsAsJSON()).length)
})
