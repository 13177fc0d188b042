import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/log.js'
import type { InboundMessage, Outcome } from '../ingress/messagePipeline.js'
import type { DiskSpool, SpoolEntry } from './diskSpool.js'

export interface SpoolDeliveryOptions {
  spool: DiskSpool
  /** Handles one message (the pipeline: retries, dead letters, expiry, reply); 'ack' marks it delivered. */
  handle: (msg: InboundMessage) => Promise<Outcome>
  /** Messages being delivered at once (adapter.maxInFlight). */
  maxInFlight: number
  /** Aborted when stopping begins: nothing new is taken, a message left unfinished stays in the spool. */
  stopping: AbortSignal
  clock: Clock
  log: Logger
  /** Wait before a message the pipeline left (its dead letter could not be published) is tried again. Default 1000 ms. */
  retryMs?: number | undefined
}

/**
 * Delivers what the spool holds, oldest first, up to maxInFlight at once, through the same pipeline the
 * broker's messages go through without a spool. A message whose handling ends 'ack' (answered, or
 * dead-lettered) is marked delivered; one left ('leave': stopping, or a dead letter that could not be
 * published) stays in the spool, and is tried again after retryMs unless the adapter is stopping.
 */
export class SpoolDelivery {
  readonly #o: SpoolDeliveryOptions
  #inFlight = 0
  #started = false
  #idleWaiters: Array<() => void> = []

  constructor (o: SpoolDeliveryOptions) {
    this.#o = o
    o.spool.onAvailable(() => { this.#pump() })
  }

  get inFlight (): number { return this.#inFlight }

  start (): void {
    this.#started = true
    this.#pump()
  }

  #pump (): void {
    const o = this.#o
    if (!this.#started) return
    while (this.#inFlight < o.maxInFlight && !o.stopping.aborted) {
      const e = o.spool.take()
      if (e === undefined) return
      this.#inFlight++
      void this.#deliver(e)
    }
  }

  async #deliver (e: SpoolEntry): Promise<void> {
    const o = this.#o
    let outcome: Outcome = 'leave'
    try {
      outcome = await o.handle(await o.spool.load(e))
    } catch (err) {
      o.log.error({ code: 'SPOOL_UNAVAILABLE', seq: e.seq, err: (err as Error).message }, 'delivering a spooled message failed: it stays in the spool')
    }
    if (outcome === 'ack') o.spool.done(e)
    else if (o.stopping.aborted) { /* stays in the spool for the next start */ } else {
      o.clock.setTimeout(() => { o.spool.release(e) }, o.retryMs ?? 1000)
    }
    this.#inFlight--
    if (this.#inFlight === 0) for (const w of this.#idleWaiters.splice(0)) w()
    this.#pump()
  }

  /** Resolves when nothing is being delivered, or false after timeoutMs. */
  whenIdle (timeoutMs: number): Promise<boolean> {
    if (this.#inFlight === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs)
      this.#idleWaiters.push(() => { clearTimeout(timer); resolve(true) })
    })
  }
}
