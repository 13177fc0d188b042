import t from 'tap'
import { MOSQUITTO_URL, mosquittoReachable } from '../helpers/mosquitto.js'
import { stackSuite } from './stackSuite.js'

// The machine's Mosquitto on 127.0.0.1:1883 (.ci/run makes sure it runs). Topics and client ids are unique
// per run, so parallel runs and leftover sessions do not interfere.
if (!(await mosquittoReachable())) {
  // Not skipped silently: CI starts Mosquitto, so a missing broker is a failure there.
  t.fail(`Mosquitto is not reachable at ${MOSQUITTO_URL}; start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf`)
} else {
  stackSuite(t, { brokerUrl: MOSQUITTO_URL })
}
