import t from 'tap'
import { configSchema } from '../../core/config/schema.js'
import { envLeaves } from '../../core/config/envOverrides.js'
import { configJsonSchema } from '../../core/config/loadConfig.js'

t.test('adapter.spool is off unless set; set, it gets its defaults', async (t) => {
  t.equal(configSchema.parse({}).adapter.spool, undefined)
  t.same(configSchema.parse({ adapter: { spool: { dir: 'data/spool' } } }).adapter.spool, { dir: 'data/spool', maxBytes: 268_435_456, fsync: true, memoryBytes: 67_108_864 })
})

t.test('bad spool settings name their field', async (t) => {
  const small = configSchema.safeParse({ adapter: { spool: { dir: 's', maxBytes: 1_048_576 } } })
  t.notOk(small.success)
  t.same(small.error?.issues.map((i) => i.path.join('.')), ['adapter.spool.maxBytes'], 'below 4 x (maxPayloadBytes + 128 KiB)')
  t.match(small.error?.issues[0]?.message, /4 x \(adapter\.maxPayloadBytes/)
  t.ok(configSchema.safeParse({ adapter: { maxPayloadBytes: 1000, spool: { dir: 's', maxBytes: 1_048_576 } } }).success, 'fine with small payloads')
  const noDir = configSchema.safeParse({ adapter: { spool: {} } })
  t.same(noDir.error?.issues.map((i) => i.path.join('.')), ['adapter.spool.dir'])
  const typo = configSchema.safeParse({ adapter: { spool: { dir: 's', fsnyc: false } } })
  t.notOk(typo.success, 'an unknown key is refused')
})

t.test('every spool field has its IOTLESS_ variable', async (t) => {
  const envs = envLeaves(configJsonSchema()).map((l) => l.env)
  for (const e of ['IOTLESS_ADAPTER_SPOOL_DIR', 'IOTLESS_ADAPTER_SPOOL_MAX_BYTES', 'IOTLESS_ADAPTER_SPOOL_FSYNC', 'IOTLESS_ADAPTER_SPOOL_MEMORY_BYTES']) t.ok(envs.includes(e), e)
})
