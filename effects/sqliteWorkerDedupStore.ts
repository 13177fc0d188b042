import { Worker } from 'node:worker_threads'
import { IotlessError, type ErrorCode } from '../core/errors.js'
import type { DedupLimits, DedupStore } from './effectStore.js'
import type { DedupWorkerData, DedupWorkerReply, DedupWorkerRequest } from './sqliteDedupWorker.js'

interface Pending { resolve: (v: string[] | number | null) => void; reject: (e: Error) => void }

/**
 * The SQLite dedup window with its connection in a worker thread. Same file, same table and same durability as
 * SqliteDedupStore (WAL + synchronous=FULL: `record` resolves once the commit is fsync'd), but the fsync blocks
 * the worker, not the adapter's event loop: while one group of records is being committed, the adapter keeps
 * reading, dispatching and collecting the next group. On the main thread the fsync was the adapter's largest
 * cost (a CPU profile: 29% of its time inside the commit at saturation). A worker that dies fails its calls
 * with STORE_UNAVAILABLE (the window then retries, acknowledging nothing) and is started again on the next call.
 */
export class SqliteWorkerDedupStore implements DedupStore {
  #worker: Worker | undefined
  #ready: Promise<void> | undefined
  #seq = 0
  readonly #pending = new Map<number, Pending>()
  #closed = false

  private constructor (private readonly data: DedupWorkerData) {}

  /** Starts the worker and waits until it has opened the file: a path that cannot be used throws here, naming `field`. */
  static async open (path: string, limits: DedupLimits, field: string): Promise<SqliteWorkerDedupStore> {
    const s = new SqliteWorkerDedupStore({ path, field, limits })
    await s.#startOrTerminate()
    return s
  }

  async seen (ids: readonly string[], nowMs: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    return new Set(await this.#call('seen', ids, nowMs) as string[])
  }

  async record (ids: readonly string[], nowMs: number): Promise<void> {
    if (ids.length > 0) await this.#call('record', ids, nowMs)
  }

  async size (nowMs: number): Promise<number> {
    return await this.#call('size', [], nowMs) as number
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const w = this.#worker
    if (w === undefined) return
    await this.#call('close', [], 0, true).catch(() => {})
    await w.terminate()
  }

  /** A worker that could not open the file is stopped (it would otherwise keep the process alive). */
  async #startOrTerminate (): Promise<void> {
    try {
      await this.#start()
    } catch (err) {
      const w = this.#worker
      this.#worker = undefined
      this.#ready = undefined
      await w?.terminate()
      throw err
    }
  }

  #start (): Promise<void> {
    const w = new Worker(new URL('./sqliteDedupWorker.js', import.meta.url), {
      workerData: this.data,
      // The parent's flags, less those a worker refuses (node --input-type=module -e ...).
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type'))
    })
    this.#worker = w
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#pending.set(0, { resolve: () => resolve(), reject })
    })
    w.on('message', (m: DedupWorkerReply) => {
      const p = this.#pending.get(m.seq)
      if (p === undefined) return
      this.#pending.delete(m.seq)
      if (m.ok) p.resolve(m.value)
      else p.reject(new IotlessError(m.code as ErrorCode, m.seq === 0 ? m.message : `${this.data.field}: the SQLite dedup store failed: ${m.message}`))
    })
    const gone = (why: string): void => {
      if (this.#worker === w) { this.#worker = undefined; this.#ready = undefined }
      const err = new IotlessError('STORE_UNAVAILABLE', `${this.data.field}: the SQLite dedup worker ${why}`)
      for (const p of this.#pending.values()) p.reject(err)
      this.#pending.clear()
    }
    w.on('error', (err) => gone(`failed: ${err.message}`))
    w.on('exit', (code) => gone(`exited (${code})`))
    return this.#ready
  }

  async #call (op: DedupWorkerRequest['op'], ids: readonly string[], nowMs: number, closing = false): Promise<string[] | number | null> {
    if (this.#closed && !closing) throw new IotlessError('STORE_UNAVAILABLE', `${this.data.field}: the SQLite dedup store is closed`)
    if (this.#worker === undefined) await this.#startOrTerminate()
    await this.#ready
    const w = this.#worker
    if (w === undefined) throw new IotlessError('STORE_UNAVAILABLE', `${this.data.field}: the SQLite dedup worker is gone`)
    const seq = ++this.#seq
    return await new Promise((resolve, reject) => {
      this.#pending.set(seq, { resolve, reject })
      w.postMessage({ seq, op, ids: [...ids], nowMs } satisfies DedupWorkerRequest)
    })
  }
}
