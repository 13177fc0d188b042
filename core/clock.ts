/**
 * An injectable clock, as MQTT.js injects its timer (src/lib/get-timer.ts): code that waits on time takes
 * a Clock, and tests drive a ManualClock instead of sleeping.
 */
export interface TimerHandle { readonly id: number }

export interface Clock {
  now(): number
  setTimeout(fn: () => void, delayMs: number): TimerHandle
  clearTimeout(handle: TimerHandle | undefined): void
}

let nextId = 1

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout (fn, delayMs) {
    const t = setTimeout(fn, delayMs)
    t.unref()
    const handle = { id: nextId++, t }
    return handle
  },
  clearTimeout (handle) {
    if (handle !== undefined) clearTimeout((handle as unknown as { t: NodeJS.Timeout }).t)
  }
}

interface Pending { id: number; at: number; fn: () => void }

/** A clock that only moves when `advance` is called. Timers due at the same time fire in creation order. */
export class ManualClock implements Clock {
  #now: number
  #timers: Pending[] = []

  constructor (startMs = 0) { this.#now = startMs }

  now (): number { return this.#now }

  setTimeout (fn: () => void, delayMs: number): TimerHandle {
    const p = { id: nextId++, at: this.#now + Math.max(0, delayMs), fn }
    this.#timers.push(p)
    return { id: p.id }
  }

  clearTimeout (handle: TimerHandle | undefined): void {
    if (handle === undefined) return
    this.#timers = this.#timers.filter((p) => p.id !== handle.id)
  }

  /** Moves time forward, firing every timer that falls due, including timers those timers set. */
  advance (ms: number): void {
    const target = this.#now + ms
    for (;;) {
      let next: Pending | undefined
      for (const p of this.#timers) if (p.at <= target && (next === undefined || p.at < next.at)) next = p
      if (next === undefined) break
      this.#timers = this.#timers.filter((p) => p !== next)
      this.#now = next.at
      next.fn()
    }
    this.#now = target
  }

  get pendingTimers (): number { return this.#timers.length }
}
