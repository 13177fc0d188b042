/**
 * Bounds what password checks can cost the embedded broker. Each check is an scrypt derivation (~16 MiB and
 * tens of ms of CPU, on libuv's thread pool), so a client sending CONNECTs with wrong passwords could keep
 * every core of a small edge box busy. Two limits:
 * - at most `concurrentChecks` derivations at once, `queuedChecks` more waiting; past that a CONNECT is
 *   refused at once (server unavailable) without a derivation;
 * - an address with `failuresBeforeLockout` failed logins in a row is refused at once for a lockout that
 *   doubles with each further failure, from 1 s up to `lockoutMaxMs`; a good login resets it. Several devices
 *   behind one NAT address share the count, as with any per-address limit.
 * Pure: the clock is injected; the broker calls it for every CONNECT that carries a device's password.
 */
export interface LoginLimits {
  concurrentChecks: number
  queuedChecks: number
  failuresBeforeLockout: number
  lockoutMaxMs: number
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { concurrentChecks: 1, queuedChecks: 256, failuresBeforeLockout: 10, lockoutMaxMs: 60_000 }

interface Record { failures: number; lockedUntil: number }

export type ThrottleVerdict =
  | { ok: true }
  | { ok: false; reason: 'locked-out'; retryInMs: number; failures: number }
  | { ok: false; reason: 'busy' }

export class LoginThrottle {
  readonly #limits: LoginLimits
  readonly #now: () => number
  readonly #maxTracked: number
  /** Per address, in least-recently-failed order (a Map keeps insertion order; a failure re-inserts). */
  readonly #records = new Map<string, Record>()
  readonly #waiting: Array<() => void> = []
  #running = 0

  constructor (limits: LoginLimits = DEFAULT_LOGIN_LIMITS, now: () => number = Date.now, maxTracked = 10_000) {
    this.#limits = limits
    this.#now = now
    this.#maxTracked = maxTracked
  }

  get running (): number { return this.#running }
  get queued (): number { return this.#waiting.length }

  /** Whether a login from this address may be checked now; when it may, `run` it. */
  admit (address: string): ThrottleVerdict {
    const r = this.#records.get(address)
    if (r !== undefined && r.lockedUntil > this.#now()) return { ok: false, reason: 'locked-out', retryInMs: r.lockedUntil - this.#now(), failures: r.failures }
    if (this.#running >= this.#limits.concurrentChecks && this.#waiting.length >= this.#limits.queuedChecks) return { ok: false, reason: 'busy' }
    return { ok: true }
  }

  /** Runs a check when a slot is free (after `admit` said ok, in the same turn). */
  async run<T> (check: () => Promise<T>): Promise<T> {
    if (this.#running >= this.#limits.concurrentChecks) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    else this.#running++
    try {
      return await check()
    } finally {
      const next = this.#waiting.shift()
      // The slot passes straight to the next waiter, so #running stays counted for it.
      if (next !== undefined) next()
      else this.#running--
    }
  }

  /** A failed login from this address; returns the lockout it now has in ms (0 for none). */
  failed (address: string): number {
    const r = this.#records.get(address) ?? { failures: 0, lockedUntil: 0 }
    this.#records.delete(address)
    r.failures++
    const over = r.failures - this.#limits.failuresBeforeLockout
    const lockMs = over < 0 ? 0 : Math.min(this.#limits.lockoutMaxMs, 1000 * 2 ** Math.min(over, 30))
    r.lockedUntil = lockMs > 0 ? this.#now() + lockMs : 0
    this.#records.set(address, r)
    if (this.#records.size > this.#maxTracked) {
      const oldest = this.#records.keys().next().value
      if (oldest !== undefined) this.#records.delete(oldest)
    }
    return lockMs
  }

  succeeded (address: string): void {
    this.#records.delete(address)
  }
}
