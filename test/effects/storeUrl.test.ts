import t from 'tap'
import { isIotlessError } from '../../core/errors.js'
import { parseStoreUrl } from '../../effects/storeUrl.js'

t.test('store URLs: each scheme, relative SQLite paths against the config folder', async (t) => {
  t.same(parseStoreUrl('sqlite:data/fx.db', 'f', '/etc/iotless'), { kind: 'sqlite', path: '/etc/iotless/data/fx.db' })
  t.same(parseStoreUrl('sqlite:/var/lib/fx.db', 'f', '/etc/iotless'), { kind: 'sqlite', path: '/var/lib/fx.db' })
  t.same(parseStoreUrl('sqlite:///var/lib/fx.db', 'f', '/etc/iotless'), { kind: 'sqlite', path: '/var/lib/fx.db' })
  t.same(parseStoreUrl('redis://127.0.0.1:6379/2?prefix=edge1:', 'f'), { kind: 'redis', url: 'redis://127.0.0.1:6379/2', prefix: 'edge1:' })
  t.same(parseStoreUrl('rediss://h:6380', 'f'), { kind: 'redis', url: 'rediss://h:6380', prefix: 'iotless:' })
  t.same(parseStoreUrl('postgres://u@db/iot?schema=billing', 'f'), { kind: 'postgres', url: 'postgres://u@db/iot', schema: 'billing' })
  t.same(parseStoreUrl('memory:', 'f'), { kind: 'memory' })
})

t.test('store URLs: bad ones name the field and never show a password', async (t) => {
  for (const bad of ['mysql://u:pw@h/db', 'sqlite:', 'redis://u:secret@[bad', '/just/a/path']) {
    try {
      parseStoreUrl(bad, 'functions.count.effects.url')
      t.fail(bad)
    } catch (err) {
      t.ok(isIotlessError(err, 'CONFIG_INVALID'), bad)
      t.match((err as Error).message, /^functions\.count\.effects\.url: /)
      t.notMatch((err as Error).message, /secret|:pw@/)
    }
  }
})
