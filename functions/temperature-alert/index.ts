import { defineFunction } from '../sdk/defineFunction.js'
import { parseReading, ReadingError } from './parseReading.js'

interface State { thresholdC: number }

/**
 * Replies with an alert when a reading's temperature is at or above the threshold
 * (functions.temperature-alert.config.thresholdC, default 23 °C); other readings get no reply.
 * An unreadable reading gets an error reply rather than an exception, so the device learns what was wrong.
 */
export default defineFunction<State>({
  init ({ config }) {
    const t = config.thresholdC ?? 23
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new Error(`config.thresholdC must be a number, got ${JSON.stringify(t)}`)
    return { thresholdC: t }
  },
  handle (event, { state }) {
    let reading
    try {
      reading = parseReading(event.data)
    } catch (err) {
      if (err instanceof ReadingError) return { data: { error: 'unreadable reading', detail: err.message, subject: event.subject } }
      throw err
    }
    if (reading.temperatureC < state.thresholdC) return undefined
    return {
      data: {
        alert: 'temperature',
        subject: event.subject,
        node: reading.node,
        temperatureC: reading.temperatureC,
        thresholdC: state.thresholdC,
        readingTimestampMs: reading.timestampMs
      }
    }
  }
})
