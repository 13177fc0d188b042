import t from 'tap'
import { stackSuite } from './stackSuite.js'

// The embedded broker (aedes 1.x, MQTT 3.1.1) on port 0.
stackSuite(t, { brokerUrl: '' })
