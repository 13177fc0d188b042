import type { Clock, TimerHandle } from '../../../core/clock.js'

/**
 * The simulator's clock: core/clock's Clock on a binary heap of timers, so code written against Clock (the
 * planners, the box allocator) runs unchanged in simulated time. Timers due at the same ms fire in the order they
 * were set. `cancelled` ids are skipped lazily when they reach the top.
 */
export class SimClock implements Clock {
  #now = 0
  #seq = 0
  #at: number[] = []
  #ids: number[] = []
  #fns: Array<() => void> = []
  readonly #cancelled = new Set<number>()

  now (): number { return this.#now }

  setTimeout (fn: () => void, delayMs: number): TimerHandle {
    const id = ++this.#seq
    this.#push(this.#now + Math.max(0, delayMs), id, fn)
    return { id }
  }

  clearTimeout (handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#cancelled.add(handle.id)
  }

  /** Time of the next timer, or Infinity. */
  peek (): number {
    this.#skipCancelled()
    return this.#at.length > 0 ? (this.#at[0] ?? Infinity) : Infinity
  }

  /** Runs the next timer (after moving time to it); false when there is none. */
  step (): boolean {
    this.#skipCancelled()
    if (this.#at.length === 0) return false
    const at = this.#at[0] ?? 0
    const fn = this.#pop()
    this.#now = at
    fn()
    return true
  }

  /** Moves time to `ms` without running anything (the caller handles an event of its own there). */
  moveTo (ms: number): void { if (ms > this.#now) this.#now = ms }

  get pending (): number { return this.#at.length - this.#cancelled.size }

  #skipCancelled (): void {
    while (this.#ids.length > 0 && this.#cancelled.has(this.#ids[0] ?? 0)) {
      this.#cancelled.delete(this.#ids[0] ?? 0)
      this.#pop()
    }
  }

  #less (i: number, j: number): boolean {
    const a = this.#at[i] ?? 0
    const b = this.#at[j] ?? 0
    return a < b || (a === b && (this.#ids[i] ?? 0) < (this.#ids[j] ?? 0))
  }

  #swap (i: number, j: number): void {
    const at = this.#at; const ids = this.#ids; const fns = this.#fns
    const a = at[i] ?? 0; at[i] = at[j] ?? 0; at[j] = a
    const d = ids[i] ?? 0; ids[i] = ids[j] ?? 0; ids[j] = d
    const f = fns[i] as () => void; fns[i] = fns[j] as () => void; fns[j] = f
  }

  #push (at: number, id: number, fn: () => void): void {
    this.#at.push(at); this.#ids.push(id); this.#fns.push(fn)
    let i = this.#at.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.#less(i, p)) break
      this.#swap(i, p)
      i = p
    }
  }

  #pop (): () => void {
    const top = this.#fns[0] as () => void
    const last = this.#at.length - 1
    this.#swap(0, last)
    this.#at.pop(); this.#ids.pop(); this.#fns.pop()
    let i = 0
    const n = this.#at.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && this.#less(l, m)) m = l
      if (r < n && this.#less(r, m)) m = r
      if (m === i) break
      this.#swap(i, m)
      i = m
    }
    return top
  }
}
