import type { Clock, TimerHandle } from '../core/clock.js'

/**
 * The drain state machine of knative/pkg network/handlers/drain.go, without HTTP: once `drain()` is
 * called, probes fail, and the returned promise resolves when no request has arrived for `quietPeriodMs`
 * (each request restarts the wait). `reset()` undoes it, which Knative does when /wait-for-drain was not
 * followed by SIGTERM (a liveness restart of the user container, not a pod shutdown).
 *
 * Requests record their arrival by assigning `lastRequestMs`, so the hot path never touches a timer;
 * the timer re-arms itself for whatever is left of the quiet period when it fires.
 */
export class Drainer {
  readonly quietPeriodMs: number
  lastRequestMs = Number.NEGATIVE_INFINITY
  #clock: Clock
  #startMs = 0
  #timer: TimerHandle | undefined
  #done: Promise<void> | undefined
  #resolve: (() => void) | undefined

  constructor (clock: Clock, quietPeriodMs: number) {
    this.#clock = clock
    this.quietPeriodMs = quietPeriodMs
  }

  get draining (): boolean { return this.#done !== undefined }

  drain (): Promise<void> {
    if (this.#done !== undefined) return this.#done
    this.#startMs = this.#clock.now()
    this.#done = new Promise<void>((resolve) => { this.#resolve = resolve })
    this.#arm(this.quietPeriodMs)
    return this.#done
  }

  #arm (delayMs: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      const quietSince = Math.max(this.#startMs, this.lastRequestMs)
      const left = quietSince + this.quietPeriodMs - this.#clock.now()
      if (left > 0) this.#arm(left)
      else this.#finish()
    }, delayMs)
  }

  #finish (): void {
    this.#timer = undefined
    const resolve = this.#resolve
    this.#resolve = undefined
    resolve?.()
  }

  reset (): void {
    this.#clock.clearTimeout(this.#timer)
    this.#finish()
    this.#done = undefined
  }
}
