import t from 'tap'
import { startEmbeddedBroker } from '../../adapters/broker/embeddedBroker.js'
import { memoryLog } from '../helpers/silentLog.js'
import { adapterSuite } from './adapterSuite.js'

// The embedded aedes broker (MQTT 3.1.1 only) on port 0.
const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log: memoryLog().log })
t.teardown(() => broker.close())
adapterSuite(t, broker.url, false)
