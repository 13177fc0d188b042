import { Worker } from 'node:worker_threads'
import type { Logger } from '../log.js'
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { pushSpanRecord, RECORD_FIELDS, type ExportWorkerData, type FromExportWorker, type ToExportWorker } from './spanRecord.js'

const WORKER = new URL('./otlpExportWorker.js', import.meta.url)

export interface WorkerSpanProcessorOptions extends ExportWorkerData {
  /** Spans handed over and not yet exported (or failed); past it, new ones are dropped and counted. */
  maxQueueSize: number
  /** Spans sent to the worker at once, at most. */
  maxBatchSize: number
  /** A partial batch waits at most this long. */
  scheduledDelayMs: number
  log: Logger
  counters?: { exported(n: number): void; dropped(n: number): void; failed(n: number): void } | undefined
}

/**
 * An OpenTelemetry SpanProcessor that hands each finished, sampled span to an export worker thread
 * (otlpExportWorker.ts) as a compact record, in batches: the message-handling thread does no OTLP
 * serialisation and no HTTP. The queue is bounded: while `maxQueueSize` spans wait for their export's
 * outcome, new spans are dropped, counted, and logged once; a failed export is counted and logged once.
 */
export class WorkerSpanProcessor implements SpanProcessor {
  readonly #o: WorkerSpanProcessorOptions
  readonly #worker: Worker
  #batch: unknown[] = []
  #timer: NodeJS.Timeout | undefined
  #pending = 0
  #dropped = 0
  #warnedDrop = false
  #warnedFail = false
  #closed = false
  #idle: Array<() => void> = []

  constructor (o: WorkerSpanProcessorOptions) {
    this.#o = o
    const data: ExportWorkerData = { endpoint: o.endpoint, exportTimeoutMs: o.exportTimeoutMs, serviceName: o.serviceName, scope: o.scope }
    this.#worker = new Worker(WORKER, { workerData: data })
    this.#worker.unref()
    this.#worker.on('message', (m: FromExportWorker) => { if (m.type === 'done') this.#done(m.n, m.ok, m.error) })
    this.#worker.on('error', (err) => { o.log.error({ code: 'TRACING_EXPORT_FAILED', err: err.message }, 'tracing: the export worker failed; spans are no longer exported') })
  }

  /** Spans dropped because the queue was full. */
  get dropped (): number { return this.#dropped }

  onStart (): void {}

  onEnd (span: ReadableSpan): void {
    if ((span.spanContext().traceFlags & 1) === 0 || this.#closed) return
    if (this.#pending >= this.#o.maxQueueSize) {
      this.#dropped++
      this.#o.counters?.dropped(1)
      if (!this.#warnedDrop) {
        this.#warnedDrop = true
        this.#o.log.warn({ code: 'TRACING_QUEUE_FULL', endpoint: this.#o.endpoint, maxQueueSize: this.#o.maxQueueSize }, 'tracing: export queue full, spans are dropped (logged once; iotless_trace_spans_dropped_total counts them)')
      }
      return
    }
    this.#pending++
    pushSpanRecord(this.#batch, span)
    if (this.#batch.length >= this.#o.maxBatchSize * RECORD_FIELDS) this.#send()
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => { this.#send() }, this.#o.scheduledDelayMs)
      this.#timer.unref()
    }
  }

  async forceFlush (waitMs = this.#o.exportTimeoutMs + 1000): Promise<void> {
    this.#send()
    if (this.#pending === 0) return
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, waitMs))
      this.#idle.push(() => { clearTimeout(t); resolve() })
    })
  }

  /** Exports what is queued and stops the worker, within one export timeout (+1 s) in all: an endpoint that is down does not hold stopping up longer. */
  async shutdown (): Promise<void> {
    if (this.#closed) return
    const deadline = Date.now() + this.#o.exportTimeoutMs + 1000
    this.#worker.ref()
    await this.forceFlush(deadline - Date.now())
    this.#closed = true
    const closed = new Promise<void>((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()))
      this.#worker.on('message', (m: FromExportWorker) => { if (m.type === 'closed') { clearTimeout(t); resolve() } })
    })
    this.#post({ type: 'shutdown' })
    await closed
    await this.#worker.terminate()
  }

  #send (): void {
    if (this.#timer !== undefined) { clearTimeout(this.#timer); this.#timer = undefined }
    if (this.#batch.length === 0) return
    const records = this.#batch
    this.#batch = []
    this.#post({ type: 'spans', records })
  }

  #post (m: ToExportWorker): void { this.#worker.postMessage(m) }

  #done (n: number, ok: boolean, error: string | undefined): void {
    this.#pending -= n
    if (ok) this.#o.counters?.exported(n)
    else {
      this.#o.counters?.failed(n)
      if (!this.#warnedFail) {
        this.#warnedFail = true
        this.#o.log.warn({ code: 'TRACING_EXPORT_FAILED', endpoint: this.#o.endpoint, err: error }, 'tracing: spans could not be exported (logged once; iotless_trace_spans_failed_total counts them)')
      }
    }
    if (this.#pending <= 0) for (const f of this.#idle.splice(0)) f()
  }
}
