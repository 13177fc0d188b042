interface Turn { begin: () => void; cancelled: boolean }

/**
 * A box-wide gate on cold starts: at most `limit` starts under way at once (0: no gate), the rest wait their turn
 * in arrival order (FIFO) and begin as those under way end. Spawned processes share the box's CPUs, so a flood of
 * starts slows every start under way, the first ones included; behind the gate the first starts take about a start
 * alone and the later ones wait. The live pools (functionPool.ts) and the simulator's (simPool.ts) share one gate
 * per box; a start counts from `enter` until its `leave` (ready or failed). A guaranteed function's start (its
 * reserved instances, capacity/guaranteeGate.ts) enters with `urgent`: it waits behind other urgent starts only,
 * never behind another function's flood, so a guarantee holds while the others are offered far more than the box.
 */
export class StartGate {
  readonly limit: number
  #running = 0
  readonly #queue: Turn[] = []
  #head = 0
  readonly #urgent: Turn[] = []
  /** The most starts ever under way at once (for checks). */
  maxRunning = 0

  constructor (limit: number) {
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`start gate limit must be a whole number >= 0, got ${limit}`)
    this.limit = limit
  }

  /** Starts under way (passed the gate, not yet left). */
  get running (): number { return this.#running }
  /** Starts waiting for their turn. */
  get waiting (): number {
    let n = 0
    for (let i = this.#head; i < this.#queue.length; i++) if (this.#queue[i]?.cancelled === false) n++
    for (const turn of this.#urgent) if (!turn.cancelled) n++
    return n
  }

  /**
   * `begin` runs now when the gate has room (or there is no gate), else when its turn comes. The caller must call
   * `leave()` once after `begin` ran, when the start ended. Returns a cancel: the turn is given up if not yet begun
   * (true), or false when `begin` already ran (then `leave` is still owed).
   */
  enter (begin: () => void, urgent = false): () => boolean {
    const turn: Turn = { begin, cancelled: false }
    let begun = false
    const run = (): void => { begun = true; this.#take(); begin() }
    const noneAhead = this.#urgent.length === 0 && (urgent || this.#head === this.#queue.length)
    if (this.limit === 0 || (this.#running < this.limit && noneAhead)) run()
    else { turn.begin = run; (urgent ? this.#urgent : this.#queue).push(turn) }
    return () => {
      if (begun) return false
      turn.cancelled = true
      return true
    }
  }

  /** A start that passed the gate has ended: the next waiting one begins. */
  leave (): void {
    if (this.#running <= 0) throw new Error('StartGate.leave without a start under way')
    this.#running--
    this.#next()
  }

  #take (): void {
    this.#running++
    if (this.#running > this.maxRunning) this.maxRunning = this.#running
  }

  #next (): void {
    while (this.#urgent.length > 0 && (this.limit === 0 || this.#running < this.limit)) {
      const turn = this.#urgent.shift() as Turn
      if (!turn.cancelled) turn.begin()
    }
    while (this.#head < this.#queue.length && (this.limit === 0 || this.#running < this.limit)) {
      const turn = this.#queue[this.#head++] as Turn
      if (this.#head > 1024 && this.#head * 2 > this.#queue.length) { this.#queue.splice(0, this.#head); this.#head = 0 }
      if (turn.cancelled) continue
      turn.begin()
    }
  }
}
