import t from 'tap'
import { MemoryDedupStore, memoryEffectStore } from '../../effects/memoryStores.js'
import { dedupSuite, effectSuite } from './storeSuite.js'

dedupSuite(t, 'memory', { open: async (limits) => new MemoryDedupStore(limits) })
effectSuite(t, 'memory', { open: async (opts) => memoryEffectStore(opts) })
