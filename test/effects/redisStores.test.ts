import { randomUUID } from 'node:crypto'
import t from 'tap'
import { isIotlessError } from '../../core/errors.js'
import { RedisDedupStore, openRedis, redisEffectStore } from '../../effects/redisStores.js'
import { dedupSuite, effectSuite } from './storeSuite.js'

/** The machine's Redis (CI starts it in .ci/run); every fixture gets keys under its own prefix, deleted after. */
const URL = process.env.IOTLESS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefixes: string[] = []
function prefix (): string {
  const p = `iotless-test:${randomUUID()}:`
  prefixes.push(p)
  return p
}
t.teardown(async () => {
  const r = await openRedis(URL, 'cleanup')
  for (const p of prefixes) {
    const keys = await r.keys(`${p}*`)
    if (keys.length > 0) await r.del(...keys)
  }
  r.disconnect()
})

let p = ''
dedupSuite(t, 'redis', {
  open: async (limits) => { p = prefix(); return new RedisDedupStore(await openRedis(URL, 'adapter.dedup.url'), limits, p) },
  reopen: async (limits) => new RedisDedupStore(await openRedis(URL, 'adapter.dedup.url'), limits, p)
})

let q = ''
effectSuite(t, 'redis', {
  open: async (opts) => { q = prefix(); return redisEffectStore(await openRedis(URL, 'effects.url'), q, opts) },
  second: async () => redisEffectStore(await openRedis(URL, 'effects.url'), q)
})

t.test('redis: an unreachable server is STORE_UNAVAILABLE naming the field, with the password redacted', async (t) => {
  try {
    await openRedis('redis://:hunter2@127.0.0.1:1', 'adapter.dedup.url')
    t.fail('connected')
  } catch (err) {
    t.ok(isIotlessError(err, 'STORE_UNAVAILABLE'), String(err))
    t.match((err as Error).message, /^adapter\.dedup\.url: cannot reach Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:1/)
    t.notMatch((err as Error).message, /hunter2/)
  }
})
