/**
 * How long a new instance of one function takes to start now, on the pool's clock: the longest of the last few
 * starts that finished (ready or failed) and of the starts still under way (one under way for 20 s means a start
 * costs at least 20 s now). Pure: it is told when starts begin and end and reads no clock.
 *
 * The pool uses it so that a prefetch release never stops an idle instance sooner than a new one could start
 * (functionPool.ts releaseIdle): on a loaded machine starts take seconds, and stopping an instance the next request
 * needs again within that time spends the CPU the stack lacks on a process start (the release/restart loop that
 * made a prefetch-on stack stop answering under load, where the same stack without prefetch kept up).
 */
export class StartCost {
  readonly #recent: Float64Array
  #next = 0
  #size = 0
  readonly #underWay = new Map<number, number>()

  /** `window`: finished starts remembered (a ring). */
  constructor (window = 4) {
    if (!(Number.isInteger(window) && window >= 1)) throw new RangeError(`StartCost window must be an integer >= 1, got ${window}`)
    this.#recent = new Float64Array(window)
  }

  /** Start `id` began at `nowMs`. */
  begin (id: number, nowMs: number): void { this.#underWay.set(id, nowMs) }

  /** Start `id` ended at `nowMs` (ready, failed or timed out: each cost that long). Unknown ids are ignored. */
  end (id: number, nowMs: number): void {
    const from = this.#underWay.get(id)
    if (from === undefined) return
    this.#underWay.delete(id)
    this.#recent[this.#next] = Math.max(0, nowMs - from)
    this.#next = (this.#next + 1) % this.#recent.length
    if (this.#size < this.#recent.length) this.#size++
  }

  /** Milliseconds a start takes now, as far as is known (0 before any start). */
  estimateMs (nowMs: number): number {
    let ms = 0
    for (let i = 0; i < this.#size; i++) ms = Math.max(ms, this.#recent[i] ?? 0)
    for (const from of this.#underWay.values()) ms = Math.max(ms, nowMs - from)
    return ms
  }
}
