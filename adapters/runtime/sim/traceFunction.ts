import { defineFunction } from '../../../functions/sdk/defineFunction.js'

/**
 * The function the live replay of a request trace runs (liveReplay.ts): it takes a request's service time from the
 * event, `{ sleepMs }` (waiting, as an I/O-bound handler does) or `{ workMs }` (spinning the CPU, so a deflated
 * instance is slower), and answers with its pid.
 */
export default defineFunction({
  async handle (event) {
    const d = event.data
    const cmd = typeof d === 'object' && d !== null && !Buffer.isBuffer(d) ? d as { sleepMs?: number; workMs?: number } : {}
    if (typeof cmd.workMs === 'number' && cmd.workMs > 0) {
      const until = performance.now() + cmd.workMs
      while (performance.now() < until) { /* CPU-bound work */ }
    }
    if (typeof cmd.sleepMs === 'number' && cmd.sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, cmd.sleepMs))
    return { data: { pid: process.pid } }
  }
})
