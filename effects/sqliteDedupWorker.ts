/**
 * The worker thread of SqliteWorkerDedupStore: it owns the SQLite connection of the dedup window and runs its
 * calls (seen, record, size) one at a time, so the fsync of a commit blocks this thread, not the adapter's
 * event loop. Messages in: { seq, op, ids, nowMs }; out: { seq, ok, value } or { seq, ok: false, code, message }.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { isIotlessError } from '../core/errors.js'
import type { DedupLimits } from './effectStore.js'
import { SqliteDedupStore, openSqlite } from './sqliteStores.js'

export interface DedupWorkerData { path: string; field: string; limits: DedupLimits }
export type DedupWorkerRequest = { seq: number; op: 'seen' | 'record' | 'size' | 'close'; ids: string[]; nowMs: number }
export type DedupWorkerReply =
  | { seq: number; ok: true; value: string[] | number | null }
  | { seq: number; ok: false; code: string; message: string }

const port = parentPort
if (port === null) throw new Error('sqliteDedupWorker runs as a worker thread')
const data = workerData as DedupWorkerData

let store: SqliteDedupStore | undefined
try {
  store = new SqliteDedupStore(openSqlite(data.path, data.field), data.limits)
  port.postMessage({ seq: 0, ok: true, value: null } satisfies DedupWorkerReply)
} catch (err) {
  port.postMessage({ seq: 0, ok: false, code: isIotlessError(err) ? err.code : 'STORE_UNAVAILABLE', message: (err as Error).message } satisfies DedupWorkerReply)
}

port.on('message', (req: DedupWorkerRequest) => {
  void (async () => {
    try {
      if (store === undefined) throw new Error('the SQLite dedup store is not open')
      let value: string[] | number | null = null
      if (req.op === 'seen') value = [...await store.seen(req.ids, req.nowMs)]
      else if (req.op === 'record') await store.record(req.ids, req.nowMs)
      else if (req.op === 'size') value = await store.size(req.nowMs)
      else { await store.close(); store = undefined }
      port.postMessage({ seq: req.seq, ok: true, value } satisfies DedupWorkerReply)
      if (req.op === 'close') port.close()
    } catch (err) {
      port.postMessage({ seq: req.seq, ok: false, code: isIotlessError(err) ? err.code : 'STORE_UNAVAILABLE', message: (err as Error).message } satisfies DedupWorkerReply)
    }
  })()
})
