import type { TimerHandle } from '../../../core/clock.js'
import type { SimClock } from './simClock.js'

interface Start { left: number; done: () => void }

/**
 * Cold starts sharing the box's CPUs as processes do (processor sharing): while k are under way each progresses at
 * min(1, cpus / k) of the speed of one started alone, so a start that begins later slows every start already under
 * way, and speeds up again when they finish. The simulator's default fixes a start's length when it begins instead
 * (simPool.ts StartCounter); this is the alternative for comparing the two (RequestSimOptions.coldStartSharing).
 */
export class SharedStarts {
  readonly #clock: SimClock
  readonly #cpus: number
  readonly #starts = new Set<Start>()
  #at = 0
  #timer: TimerHandle | undefined

  constructor (clock: SimClock, cpus: number) {
    this.#clock = clock
    this.#cpus = cpus
  }

  /** Starts under way. */
  get starting (): number { return this.#starts.size }

  /** A start of `aloneMs` (its length alone) begins now; `done` runs when it has had that much of a CPU. */
  start (aloneMs: number, done: () => void): void {
    this.#advance()
    this.#starts.add({ left: aloneMs, done })
    this.#schedule()
  }

  #rate (): number { return Math.min(1, this.#cpus / Math.max(1, this.#starts.size)) }

  #advance (): void {
    const now = this.#clock.now()
    const dt = now - this.#at
    if (dt > 0 && this.#starts.size > 0) {
      const r = this.#rate()
      for (const s of this.#starts) s.left -= dt * r
    }
    this.#at = now
  }

  #schedule (): void {
    if (this.#timer !== undefined) { this.#clock.clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#starts.size === 0) return
    let min = Infinity
    for (const s of this.#starts) if (s.left < min) min = s.left
    this.#timer = this.#clock.setTimeout(() => { this.#fire() }, Math.max(0, min / this.#rate()))
  }

  #fire (): void {
    this.#timer = undefined
    this.#advance()
    const done: Start[] = []
    for (const s of this.#starts) if (s.left <= 1e-6) done.push(s)
    for (const s of done) this.#starts.delete(s)
    this.#schedule()
    for (const s of done) s.done()
  }
}
