import { crc32 } from 'node:zlib'
import type { InboundMessage } from '../ingress/messagePipeline.js'

/**
 * One spooled message on disk, as a self-checking record of a segment file:
 *
 *   u32 MAGIC | u32 body length | u32 CRC-32 of the body | body
 *   body = u32 meta length | meta (JSON: seq, topic, qos, packet id, dup, received at, MQTT 5 properties) | payload
 *
 * A record cut short by a crash mid-write, or with a bad CRC, ends the segment's good part: reading stops there
 * (what follows was never acknowledged to the broker, see diskSpool.ts). Pure: no I/O.
 */
export const RECORD_MAGIC = 0x53504f4c // 'SPOL'
export const RECORD_HEADER_BYTES = 12

/** A message as the spool keeps it: the message, its sequence number, and when the adapter received it (epoch ms). */
export interface SpooledMessage {
  readonly seq: number
  readonly receivedAt: number
  readonly msg: InboundMessage
}

interface Meta { s: number; r: number; t: string; q: 0 | 1 | 2; m?: number | undefined; d?: boolean | undefined; p?: unknown }

export function encodeRecord (seq: number, receivedAt: number, msg: InboundMessage): Buffer {
  const meta: Meta = { s: seq, r: receivedAt, t: msg.topic, q: msg.qos }
  if (msg.messageId !== undefined) meta.m = msg.messageId
  if (msg.dup === true) meta.d = true
  if (msg.properties !== undefined && Object.keys(msg.properties).length > 0) meta.p = msg.properties
  const metaBytes = Buffer.from(JSON.stringify(meta, bufferReplacer))
  const bodyLength = 4 + metaBytes.length + msg.payload.length
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + bodyLength)
  out.writeUInt32LE(RECORD_MAGIC, 0)
  out.writeUInt32LE(bodyLength, 4)
  out.writeUInt32LE(metaBytes.length, RECORD_HEADER_BYTES)
  metaBytes.copy(out, RECORD_HEADER_BYTES + 4)
  msg.payload.copy(out, RECORD_HEADER_BYTES + 4 + metaBytes.length)
  out.writeUInt32LE(crc32(out.subarray(RECORD_HEADER_BYTES)), 8)
  return out
}

/** The record starting at `offset`: its message and its length on disk; undefined when it is cut short or corrupt. */
export function decodeRecord (buf: Buffer, offset: number): { record: SpooledMessage; bytes: number } | undefined {
  if (buf.length - offset < RECORD_HEADER_BYTES) return undefined
  if (buf.readUInt32LE(offset) !== RECORD_MAGIC) return undefined
  const bodyLength = buf.readUInt32LE(offset + 4)
  const start = offset + RECORD_HEADER_BYTES
  if (bodyLength < 4 || buf.length - start < bodyLength) return undefined
  const body = buf.subarray(start, start + bodyLength)
  if (crc32(body) !== buf.readUInt32LE(offset + 8)) return undefined
  const metaLength = body.readUInt32LE(0)
  if (4 + metaLength > bodyLength) return undefined
  let meta: Meta
  try {
    meta = JSON.parse(body.subarray(4, 4 + metaLength).toString('utf8'), bufferReviver) as Meta
  } catch {
    return undefined
  }
  // A copy: the message outlives the buffer the segment was read into.
  const payload = Buffer.from(body.subarray(4 + metaLength))
  const msg: InboundMessage = {
    topic: meta.t,
    payload,
    qos: meta.q,
    messageId: meta.m,
    properties: meta.p as InboundMessage['properties'],
    dup: meta.d === true,
    receivedAt: meta.r
  }
  return { record: { seq: meta.s, receivedAt: meta.r, msg }, bytes: RECORD_HEADER_BYTES + bodyLength }
}

/** Every good record of a segment's bytes, in order, and where the good part ends. */
export function decodeSegment (buf: Buffer): { records: Array<{ record: SpooledMessage; offset: number; bytes: number }>; goodBytes: number } {
  const records: Array<{ record: SpooledMessage; offset: number; bytes: number }> = []
  let offset = 0
  for (;;) {
    const r = decodeRecord(buf, offset)
    if (r === undefined) break
    records.push({ record: r.record, offset, bytes: r.bytes })
    offset += r.bytes
  }
  return { records, goodBytes: offset }
}

/**
 * A delivered mark: the record's index in its segment, and the index XOR a constant, so that bytes a crash left
 * as zeros (or garbage) are never read as "delivered" (which would lose the message).
 */
const MARK_CHECK = 0x5a17c0de
export const MARK_BYTES = 8

export function encodeMarks (indices: readonly number[]): Buffer {
  const out = Buffer.allocUnsafe(indices.length * MARK_BYTES)
  indices.forEach((i, k) => {
    out.writeUInt32LE(i, k * MARK_BYTES)
    out.writeUInt32LE((i ^ MARK_CHECK) >>> 0, k * MARK_BYTES + 4)
  })
  return out
}

export function decodeMarks (buf: Buffer): Set<number> {
  const done = new Set<number>()
  for (let o = 0; o + MARK_BYTES <= buf.length; o += MARK_BYTES) {
    const i = buf.readUInt32LE(o)
    if (buf.readUInt32LE(o + 4) === ((i ^ MARK_CHECK) >>> 0)) done.add(i)
  }
  return done
}

function bufferReplacer (this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key]
  if (Buffer.isBuffer(raw)) return { $b: raw.toString('base64') }
  return value
}

function bufferReviver (_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && typeof (value as { $b?: unknown }).$b === 'string' && Object.keys(value).length === 1) {
    return Buffer.from((value as { $b: string }).$b, 'base64')
  }
  return value
}
