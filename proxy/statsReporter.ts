import type { Clock, TimerHandle } from '../core/clock.js'
import { RequestStats } from './requestStats.js'
import { encodeStat, type Stat } from './statProto.js'

/**
 * Turns RequestStats into the `Stat` the autoscaler scrapes, once per reporting period, after
 * knative/serving pkg/queue/sharedmain/main.go (a 1 s ticker calling stats.Report) and
 * pkg/queue/protobuf_stats_reporter.go: counts are divided by the period to make them per-second rates,
 * concurrency is not, and before the first tick the body is `Stat{PodName}` with everything else zero.
 * process_uptime counts from the reporter's creation, as Knative's does.
 */
export class StatsReporter {
  readonly stats: RequestStats
  readonly reportingPeriodMs: number
  #clock: Clock
  #podName: string
  #startMs: number
  #timer: TimerHandle | undefined
  #body: Buffer
  #last: Stat

  constructor (opts: { clock: Clock; podName: string; reportingPeriodMs?: number }) {
    this.#clock = opts.clock
    this.#podName = opts.podName
    this.reportingPeriodMs = opts.reportingPeriodMs ?? 1000
    this.#startMs = opts.clock.now()
    this.stats = new RequestStats(this.#startMs)
    this.#last = { podName: opts.podName, averageConcurrentRequests: 0, averageProxiedConcurrentRequests: 0, requestCount: 0, proxiedRequestCount: 0, processUptime: 0 }
    this.#body = encodeStat(this.#last)
  }

  /** The encoded body /metrics serves now. */
  get body (): Buffer { return this.#body }
  get last (): Readonly<Stat> { return this.#last }

  /** Closes one period now; the ticker calls it, tests may too. */
  tick (): void {
    const now = this.#clock.now()
    const r = this.stats.report(now)
    const periodSeconds = this.reportingPeriodMs / 1000
    this.#last = {
      podName: this.#podName,
      averageConcurrentRequests: r.averageConcurrency,
      averageProxiedConcurrentRequests: r.averageProxiedConcurrency,
      requestCount: r.requestCount / periodSeconds,
      proxiedRequestCount: r.proxiedRequestCount / periodSeconds,
      processUptime: (now - this.#startMs) / 1000
    }
    this.#body = encodeStat(this.#last)
  }

  start (): void {
    if (this.#timer !== undefined) return
    const loop = (): void => {
      this.tick()
      this.#timer = this.#clock.setTimeout(loop, this.reportingPeriodMs)
    }
    this.#timer = this.#clock.setTimeout(loop, this.reportingPeriodMs)
  }

  stop (): void {
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
