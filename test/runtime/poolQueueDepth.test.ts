import t from 'tap'
import { localDemand, poolQueueDepth } from '../../adapters/runtime/poolQueueDepth.js'
import { configSchema } from '../../core/config/schema.js'

t.test('the default config: the pool holds every message a route can send at once', async (t) => {
  const cfg = configSchema.parse({
    routes: [{ topic: 'a/#', function: 'f' }],
    functions: { f: { module: 'm' } }
  })
  const fn = cfg.functions.f
  if (fn === undefined) throw new Error('no function')
  const demand = localDemand(cfg.routes, cfg.adapter.maxInFlight).get('f') ?? 0
  t.equal(demand, 64, 'route maxInFlight 64')
  const depth = poolQueueDepth(fn, demand)
  t.equal(fn.concurrency * fn.maxScale + depth, 64, 'slots + queue = 64 (Knative\'s 10 x 1 x 4 = 40 would refuse 20 of them)')
})

t.test('demand: routes on local add up per function, each and all capped at adapter.maxInFlight; remote targets do not count', async (t) => {
  const routes = [
    { target: 'local', function: 'f', maxInFlight: 30 },
    { target: 'local', function: 'f', maxInFlight: 30 },
    { target: 'local', function: 'g', maxInFlight: 500 },
    { target: 'knative', function: 'f', maxInFlight: 100 }
  ]
  const d = localDemand(routes, 50)
  t.equal(d.get('f'), 50)
  t.equal(d.get('g'), 50)
  t.same(localDemand(routes, 1000).get('f'), 60)
})

t.test('queue depth: never below Knative\'s 10 x concurrency x maxScale', async (t) => {
  t.equal(poolQueueDepth({ concurrency: 2, maxScale: 4 }, 10), 80)
  t.equal(poolQueueDepth({ concurrency: 1, maxScale: 1 }, 1000), 999)
})
