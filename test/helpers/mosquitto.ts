import { connect } from 'node:net'

/** The machine's Mosquitto (.ci/run makes sure it runs). */
export const MOSQUITTO_URL = process.env.IOTLESS_TEST_MOSQUITTO_URL ?? 'mqtt://127.0.0.1:1883'

export function mosquittoReachable (): Promise<boolean> {
  return new Promise((resolve) => {
    const u = new URL(MOSQUITTO_URL)
    const s = connect(Number(u.port === '' ? 1883 : u.port), u.hostname)
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}
