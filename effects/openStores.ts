import type { DedupLimits, DedupStore, EffectStore, EffectStoreOptions } from './effectStore.js'
import { MemoryDedupStore, memoryEffectStore } from './memoryStores.js'
import type { StoreLocation } from './storeUrl.js'

/** Opens the effect log + state at `where`; a store that cannot be opened or reached throws STORE_UNAVAILABLE naming `field`. */
export async function openEffectStore (where: StoreLocation, field: string, opts: EffectStoreOptions = {}): Promise<EffectStore> {
  switch (where.kind) {
    case 'memory':
      return memoryEffectStore(opts)
    case 'sqlite': {
      const { openSqlite, sqliteEffectStore } = await import('./sqliteStores.js')
      return sqliteEffectStore(openSqlite(where.path, field), opts)
    }
    case 'redis': {
      const { openRedis, redisEffectStore } = await import('./redisStores.js')
      return redisEffectStore(await openRedis(where.url, field), where.prefix, opts)
    }
    case 'postgres': {
      const { openPostgres, postgresEffectStore } = await import('./postgresStores.js')
      return postgresEffectStore(await openPostgres(where.url, field, where.schema), opts)
    }
  }
}

/** Opens the dedup window at `where` (memory, SQLite or Redis). */
export async function openDedupStore (where: StoreLocation, limits: DedupLimits, field: string): Promise<DedupStore> {
  switch (where.kind) {
    case 'memory':
      return new MemoryDedupStore(limits)
    case 'sqlite': {
      // The connection lives in a worker thread: its fsyncs do not stop the adapter's event loop.
      const { SqliteWorkerDedupStore } = await import('./sqliteWorkerDedupStore.js')
      return await SqliteWorkerDedupStore.open(where.path, limits, field)
    }
    case 'redis': {
      const { openRedis, RedisDedupStore } = await import('./redisStores.js')
      return new RedisDedupStore(await openRedis(where.url, field), limits, where.prefix)
    }
    case 'postgres': {
      const { IotlessError } = await import('../core/errors.js')
      throw new IotlessError('CONFIG_INVALID', `${field}: the dedup window lives in sqlite: or redis:// (PostgreSQL holds the effect log and state)`)
    }
  }
}
