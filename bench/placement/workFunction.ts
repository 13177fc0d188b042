/**
 * The function bench/placement/dispatchLive.ts runs in real pool instances: `cpuMs` of computation (a busy
 * loop: it holds the instance's event loop, so requests on one instance wait for each other), then `waitMs`
 * of waiting (as on a downstream call: requests on one instance overlap). config: { cpuMs, waitMs }.
 */
import { defineFunction } from '../../functions/sdk/defineFunction.js'

export default defineFunction({
  async init ({ config }) {
    return { cpuMs: Number(config.cpuMs ?? 4), waitMs: Number(config.waitMs ?? 40) }
  },
  async handle (_event, { state }) {
    const end = performance.now() + state.cpuMs
    let spins = 0
    while (performance.now() < end) spins++
    await new Promise((resolve) => setTimeout(resolve, state.waitMs))
    return { data: { spins } }
  }
})
