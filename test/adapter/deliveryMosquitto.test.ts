import t from 'tap'
import { MOSQUITTO_URL, mosquittoReachable } from '../helpers/mosquitto.js'
import { adapterSuite } from './adapterSuite.js'

// Mosquitto 2 on 127.0.0.1:1883: MQTT 5, so the passthrough and response-topic checks run here too.
if (!(await mosquittoReachable())) {
  t.fail(`Mosquitto is not reachable at ${MOSQUITTO_URL}; start it with: mosquitto -d -c /etc/mosquitto/mosquitto.conf`)
} else {
  adapterSuite(t, MOSQUITTO_URL, true)
}
