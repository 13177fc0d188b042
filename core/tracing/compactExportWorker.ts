/**
 * The compact engine's exporter, in a worker thread (started by compactExport.ts): it takes a batch of span
 * records (compactRecord.ts) and encodes the OTLP/HTTP JSON request itself (otlpJson.ts: no SDK objects, no
 * transformer), or takes the protobuf request the message thread wrote (otlpProtobuf.ts), and POSTs it to the endpoint over a kept-alive connection, within the export timeout; it
 * reports each export's outcome (a 2xx answer: exported) back. No retry: a failed batch is counted as failed.
 */
import http from 'node:http'
import https from 'node:https'
import { parentPort, workerData } from 'node:worker_threads'
import type { CompactWorkerData, FromCompactWorker, ToCompactWorker } from './compactRecord.js'
import { otlpJsonRequest } from './otlpJson.js'

const data = workerData as CompactWorkerData
const port = parentPort
if (port === null) throw new Error('compactExportWorker runs as a worker thread')
const url = new URL(data.endpoint)
const secure = url.protocol === 'https:'
const agent = secure ? new https.Agent({ keepAlive: true, maxSockets: 4 }) : new http.Agent({ keepAlive: true, maxSockets: 4 })
const request = secure ? https.request : http.request
let inFlight = 0
let closing = false

function reply (m: FromCompactWorker): void { port?.postMessage(m) }

/**
 * POSTs one request body. A protobuf batch's buffer (`back`) goes back to the message thread with the outcome
 * when the request was written out in full and answered (2xx or not), so that the next batch is written
 * into it: a fresh ArrayBuffer per batch costs its allocation and a slower transfer. After an error or a
 * timeout it is not handed back (a write may still hold it); the message thread makes a new one.
 */
function post (body: string | Buffer, n: number, back?: ArrayBuffer): void {
  inFlight++
  let settled = false
  let written = false
  const finish = (ok: boolean, error?: string, answered = false): void => {
    if (settled) return
    settled = true
    inFlight--
    const give = answered && written && back !== undefined
    if (give) port?.postMessage({ type: 'done', n, ok, error, buffer: back } satisfies FromCompactWorker, [back])
    else reply({ type: 'done', n, ok, error })
    if (closing && inFlight === 0) close()
  }
  const req = request(url, {
    method: 'POST',
    agent,
    headers: { ...data.headers, 'content-type': typeof body === 'string' ? 'application/json' : 'application/x-protobuf', 'content-length': Buffer.byteLength(body) },
    timeout: data.exportTimeoutMs
  }, (res) => {
    res.resume()
    res.on('end', () => {
      const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300
      finish(ok, ok ? undefined : `OTLP endpoint answered ${res.statusCode ?? '?'}`, true)
    })
    res.on('error', (err) => { finish(false, err.message) })
  })
  req.on('finish', () => { written = true })
  // The timeout covers the whole export, not only an idle socket.
  const timer = setTimeout(() => { req.destroy(new Error(`export timed out after ${data.exportTimeoutMs} ms`)) }, data.exportTimeoutMs)
  req.on('close', () => { clearTimeout(timer) })
  req.on('timeout', () => { req.destroy(new Error(`export timed out after ${data.exportTimeoutMs} ms`)) })
  req.on('error', (err) => { finish(false, err.message) })
  req.end(body)
}

function close (): void {
  agent.destroy()
  reply({ type: 'closed' })
}

port.on('message', (m: ToCompactWorker) => {
  if (m.type === 'records') post(otlpJsonRequest(m.records, m.length, data.serviceName, data.scope), m.n)
  else if (m.type === 'proto') post(Buffer.from(m.buffer, m.start, m.end - m.start), m.n, m.buffer)
  else if (m.type === 'shutdown') {
    closing = true
    if (inFlight === 0) close()
  }
})
