import { defineFunction } from '../../functions/sdk/defineFunction.js'

interface State { readyAt: number; served: number }

/**
 * The function `iotless replay` runs under `iotless up`: it answers every message (the bundled temperature-alert
 * answers only readings over its threshold) with the message id, the instance's pid, when the instance finished
 * init (epoch ms: a message sent before that waited for a cold start) and how many messages the instance served.
 * `config.workMs` (default 0) busy-waits that long per message, standing in for a handler's work.
 */
export default defineFunction<State>({
  init: ({ config }) => {
    const delay = typeof config.initMs === 'number' ? config.initMs : 0
    const until = Date.now() + delay
    while (Date.now() < until) { /* a slower init, when asked for */ }
    return { readyAt: Date.now(), served: 0 }
  },
  handle: (event, { state, config }) => {
    state.served++
    const work = typeof config.workMs === 'number' ? config.workMs : 0
    if (work > 0) { const until = Date.now() + work; while (Date.now() < until) { /* work */ } }
    let msg: { id?: unknown } = {}
    try {
      const data = event.data
      msg = (Buffer.isBuffer(data) ? JSON.parse(data.toString('utf8')) : data) as { id?: unknown }
    } catch { /* not JSON: no id */ }
    return { data: { id: msg.id, pid: process.pid, readyAt: state.readyAt, served: state.served } }
  }
})
