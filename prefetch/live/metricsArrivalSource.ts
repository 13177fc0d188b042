import { request } from 'undici'
import { IotlessError } from '../../core/errors.js'

/** The counter the adapter increments once per invocation (core/metrics.ts). */
export const INVOCATIONS_METRIC = 'iotless_invocations_total'

/**
 * Sums `iotless_invocations_total` per `function` label over its other labels (outcome), from Prometheus text
 * exposition format. Lines of other metrics, comments and malformed lines are skipped.
 */
export function parseInvocationCounts (text: string, metric = INVOCATIONS_METRIC): Map<string, number> {
  const out = new Map<string, number>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (!line.startsWith(metric + '{')) continue
    const close = line.lastIndexOf('}')
    if (close < 0) continue
    const labels = line.slice(metric.length + 1, close)
    const fn = /(?:^|,)\s*function="((?:[^"\\]|\\.)*)"/.exec(labels)?.[1]
    const value = Number(line.slice(close + 1).trim().split(/\s+/)[0])
    if (fn === undefined || !Number.isFinite(value)) continue
    const name = fn.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    out.set(name, (out.get(name) ?? 0) + value)
  }
  return out
}

/**
 * Arrivals from a separate process: scrapes the adapter's /metrics and reports each function's counter increase
 * since the previous scrape. The first scrape is the baseline (nothing reported). A counter that went down (the
 * adapter restarted) reports its new value.
 */
export class MetricsArrivalSource {
  readonly url: string
  readonly #record: (fn: string, count: number) => void
  readonly #timeoutMs: number
  #previous: Map<string, number> | undefined

  constructor (url: string, record: (fn: string, count: number) => void, opts: { timeoutMs?: number } = {}) {
    this.url = url
    this.#record = record
    this.#timeoutMs = opts.timeoutMs ?? 5000
  }

  /** One scrape; reports each increase to `record` (default: the constructor's) and returns them. */
  async collect (record: (fn: string, count: number) => void = this.#record): Promise<Map<string, number>> {
    let text: string
    try {
      const res = await request(this.url, { headersTimeout: this.#timeoutMs, bodyTimeout: this.#timeoutMs })
      text = await res.body.text()
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`)
    } catch (err) {
      throw new IotlessError('PREFETCH_SOURCE_FAILED', `cannot scrape ${this.url}: ${(err as Error).message}`, { cause: err })
    }
    const now = parseInvocationCounts(text)
    const deltas = new Map<string, number>()
    if (this.#previous !== undefined) {
      for (const [fn, v] of now) {
        const before = this.#previous.get(fn) ?? 0
        const d = v >= before ? v - before : v
        if (d > 0) { deltas.set(fn, d); record(fn, d) }
      }
    }
    this.#previous = now
    return deltas
  }
}
