import t from 'tap'
import { Registry } from 'prom-client'
import { configSchema } from '../../core/config/schema.js'
import { isIotlessError } from '../../core/errors.js'
import { startStack } from '../../cli/stack.js'
import { fixtureFunction, repoRoot } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'

function config (prefetch: Record<string, unknown> | undefined) {
  return configSchema.parse({
    broker: { port: 0, clientId: `iotless-prefetch-${process.pid}-${Math.random().toString(36).slice(2, 8)}` },
    metrics: { enabled: false },
    routes: [],
    functions: { echo: { module: fixtureFunction('echo') } },
    ...(prefetch === undefined ? {} : { prefetch })
  })
}

t.test('prefetch defaults: on, iotless, one minute, no lead', async (t) => {
  const c = config(undefined)
  t.same(c.prefetch, { enabled: true, policy: 'iotless', params: {}, minuteMs: 60_000, leadMs: 0 })
  const stack = await startStack({ config: c, baseDir: repoRoot, log: memoryLog('silent').log, env: process.env, registry: new Registry() })
  t.teardown(() => stack.stop('test done'))
  t.equal(stack.prefetcher?.policy.name, 'iotless')
  t.same(stack.prefetcher?.functions, ['echo'], 'the config\'s functions are known from the start')
})

t.test('prefetch.enabled false: no prefetcher, the adapter dispatches to the pool directly', async (t) => {
  const stack = await startStack({ config: config({ enabled: false }), baseDir: repoRoot, log: memoryLog('silent').log, env: process.env, registry: new Registry() })
  t.teardown(() => stack.stop('test done'))
  t.equal(stack.prefetcher, undefined)
})

t.test('a bad policy parameter stops start-up with SIM_INVALID_PARAM, and nothing is left running', async (t) => {
  let err: unknown
  try {
    await startStack({ config: config({ policy: 'fixed', params: { keepAliveMinutes: 5 } }), baseDir: repoRoot, log: memoryLog('silent').log, env: process.env, registry: new Registry() })
  } catch (e) { err = e }
  t.ok(isIotlessError(err) && err.code === 'SIM_INVALID_PARAM', 'typed error')
  t.match((err as Error).message, /policy fixed has no parameter "keepAliveMinutes"; it has keepAliveMin/)
  t.throws(() => config({ policy: 'lru' }), /prefetch/, 'an unknown policy name is a config error')
})
