import { mkdirSync } from 'node:fs'
import { open, readdir, readFile, rm, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { Clock } from '../../core/clock.js'
import { IotlessError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Metrics } from '../../core/metrics.js'
import type { InboundMessage } from '../ingress/messagePipeline.js'
import { decodeMarks, decodeRecord, decodeSegment, encodeMarks, encodeRecord } from './spoolRecord.js'

/** The two calls whose failure the spool must survive (ENOSPC, EIO); injectable so tests can make them fail. */
export interface SpoolIo {
  write(fh: FileHandle, buf: Buffer, position: number): Promise<void>
  datasync(fh: FileHandle): Promise<void>
}

export const realSpoolIo: SpoolIo = {
  async write (fh, buf, position) {
    let done = 0
    while (done < buf.length) {
      const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done)
      done += bytesWritten
    }
  },
  datasync: (fh) => fh.datasync()
}

export interface DiskSpoolOptions {
  /** The spool's folder (created if missing). */
  dir: string
  /** Segment files, all together, at most this many bytes: beyond, intake waits (backpressure). */
  maxBytes: number
  /** fdatasync each group commit before its messages count as spooled (and are acknowledged). */
  fsync: boolean
  /** Payloads kept in memory for delivery, at most; beyond, a message is read back from its segment. */
  memoryBytes: number
  /** A segment is closed and a new one begun past this size. Default: maxBytes / 16, between 4 KiB and 8 MiB. */
  segmentBytes?: number | undefined
  /** The config field named in errors. */
  field?: string | undefined
  /** Wait before a failed write (ENOSPC, EIO) is tried again. Default 1000 ms. */
  retryMs?: number | undefined
  clock: Clock
  log: Logger
  metrics?: Metrics | undefined
  io?: SpoolIo | undefined
}

/** One spooled message, in memory: where it is on disk, and its message while it is kept in memory. */
export interface SpoolEntry {
  readonly seq: number
  readonly receivedAt: number
  readonly segment: Segment
  readonly index: number
  readonly offset: number
  readonly bytes: number
  msg: InboundMessage | undefined
  state: 'pending' | 'taken' | 'done'
}

interface Segment {
  readonly first: number
  readonly path: string
  readonly marksPath: string
  fh: FileHandle
  marks: FileHandle | undefined
  marksSize: number
  /** Bytes of good records. */
  size: number
  entries: SpoolEntry[]
  doneCount: number
  sealed: boolean
  /** A write failed and its file could not be cut back: no further record goes into it. */
  broken: boolean
  deleted: boolean
}

interface Waiter { seq: number; receivedAt: number; msg: InboundMessage; buf: Buffer; resolve: () => void; reject: (e: Error) => void }

const SEGMENT_NAME = /^seg-(\d{16})\.log$/

/**
 * The adapter's disk spool (adapter.spool, docs/spool.md): an append-only log of segment files with group
 * commit. Every message appended in one turn of the event loop (and those that arrive while a commit runs)
 * is written with one write() and, with `fsync`, one fdatasync(); `append` resolves only after that, and
 * only then is the message acknowledged to the broker. Delivery marks (one per message delivered) go to the
 * segment's `.marks` file, written in groups without fsync; a segment whose messages are all delivered is
 * deleted. On open, segments are read back (CRC-checked; a record cut short by a crash was never
 * acknowledged, and is cut off) and every message without a mark is pending again.
 *
 * Full (maxBytes) or a write failing (ENOSPC, EIO): `append` waits, in order, until there is room again or
 * the write passes; its message stays unacknowledged with the broker, and the adapter, its in-flight slots
 * taken by the waiting appends, stops reading (backpressure). Nothing is dropped.
 */
export class DiskSpool {
  readonly #o: DiskSpoolOptions & { segmentBytes: number; retryMs: number; io: SpoolIo; field: string }
  readonly #segments: Segment[] = []
  #active: Segment | undefined
  #nextSeq = 0
  #fileBytes = 0
  #memBytes = 0
  #live = 0
  /** Pending entries, oldest first; `#retry` holds those given back by a delivery that did not finish. */
  #pending: SpoolEntry[] = []
  #pendingHead = 0
  #retry: SpoolEntry[] = []
  #queue: Waiter[] = []
  #writing = false
  #scheduled = false
  #retryTimer: ReturnType<Clock['setTimeout']> | undefined
  #failing = false
  #full = false
  #closed = false
  #marks = new Map<Segment, number[]>()
  #marksScheduled = false
  #marksChain: Promise<void> = Promise.resolve()
  #onAvailable: Array<() => void> = []
  #ageTimer: NodeJS.Timeout | undefined

  private constructor (o: DiskSpoolOptions) {
    this.#o = {
      ...o,
      segmentBytes: o.segmentBytes ?? Math.max(4096, Math.min(8 * 1024 * 1024, Math.floor(o.maxBytes / 16))),
      retryMs: o.retryMs ?? 1000,
      io: o.io ?? realSpoolIo,
      field: o.field ?? 'adapter.spool.dir'
    }
  }

  /** Opens (or creates) the spool and reads back what a previous run left; SPOOL_UNAVAILABLE naming the field when it cannot. */
  static async open (o: DiskSpoolOptions): Promise<DiskSpool> {
    const s = new DiskSpool(o)
    try {
      mkdirSync(o.dir, { recursive: true })
      await s.#lock()
      await s.#recover()
    } catch (err) {
      if (err instanceof IotlessError) throw err
      throw new IotlessError('SPOOL_UNAVAILABLE', `${s.#o.field}: the spool folder "${o.dir}" cannot be opened: ${(err as Error).message}`)
    }
    if (o.metrics !== undefined) {
      s.#ageTimer = setInterval(() => { s.#updateAge() }, 1000)
      s.#ageTimer.unref()
      s.#updateGauges()
    }
    return s
  }

  /** Messages spooled and not yet delivered. */
  get messages (): number { return this.#live }
  /** Bytes of the segment files. */
  get bytes (): number { return this.#fileBytes }
  /** True while intake waits: the spool is full or a write is failing. */
  get backpressure (): boolean { return this.#full || this.#failing }
  get segmentCount (): number { return this.#segments.length }
  /** When the oldest undelivered message arrived (epoch ms); undefined when none. */
  get oldestReceivedAt (): number | undefined {
    for (const seg of this.#segments) {
      for (const e of seg.entries) if (e.state !== 'done') return e.receivedAt
    }
    return undefined
  }

  /** Called whenever messages become pending (appended, or given back). */
  onAvailable (cb: () => void): void { this.#onAvailable.push(cb) }

  /**
   * Spools a message; resolves once it is written (and fdatasync'd with `fsync`). Waits while the spool is full
   * or its writes fail; rejects only when the spool is closing (the message then stays with the broker).
   */
  append (msg: InboundMessage): Promise<void> {
    if (this.#closed) return Promise.reject(new IotlessError('SPOOL_UNAVAILABLE', 'the spool is closing'))
    const seq = this.#nextSeq++
    const receivedAt = msg.receivedAt ?? this.#o.clock.now()
    const buf = encodeRecord(seq, receivedAt, msg)
    // What delivery will see: the message as read back from disk would be (no ingress callback, its arrival time).
    const kept: InboundMessage = { topic: msg.topic, payload: msg.payload, qos: msg.qos, messageId: msg.messageId, properties: msg.properties, dup: msg.dup, receivedAt }
    return new Promise((resolve, reject) => {
      this.#queue.push({ seq, receivedAt, msg: kept, buf, resolve, reject })
      this.#schedule()
    })
  }

  /** The next message to deliver, oldest first (those given back before the rest), marked taken. */
  take (): SpoolEntry | undefined {
    let e = this.#retry.shift()
    while (e === undefined && this.#pendingHead < this.#pending.length) {
      const c = this.#pending[this.#pendingHead++] as SpoolEntry
      if (c.state === 'pending') e = c
    }
    if (this.#pendingHead > 4096 && this.#pendingHead * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#pendingHead)
      this.#pendingHead = 0
    }
    if (e !== undefined) e.state = 'taken'
    return e
  }

  /** The entry's message: from memory, or read back from its segment. */
  async load (e: SpoolEntry): Promise<InboundMessage> {
    if (e.msg !== undefined) return e.msg
    const buf = Buffer.allocUnsafe(e.bytes)
    const { bytesRead } = await e.segment.fh.read(buf, 0, e.bytes, e.offset)
    const r = decodeRecord(buf.subarray(0, bytesRead), 0)
    if (r === undefined || r.record.seq !== e.seq) throw new IotlessError('SPOOL_UNAVAILABLE', `spooled message ${e.seq} cannot be read back from ${e.segment.path}`)
    return r.record.msg
  }

  /** Gives a taken message back: it is delivered again, before the rest. */
  release (e: SpoolEntry): void {
    if (e.state !== 'taken') return
    e.state = 'pending'
    this.#retry.push(e)
    this.#notify()
  }

  /** The message was delivered: marked (written in groups, not fsync'd), its segment deleted once all of it is. */
  done (e: SpoolEntry): void {
    if (e.state === 'done') return
    e.state = 'done'
    this.#live--
    this.#dropMsg(e)
    const seg = e.segment
    seg.doneCount++
    this.#o.metrics?.spoolDelivered.inc()
    // Full, and the segment being written to is all delivered: close it, so it can be deleted and free room.
    if (seg === this.#active && this.#full && seg.doneCount === seg.entries.length) {
      seg.sealed = true
      this.#active = undefined
    }
    if (seg.sealed && seg.doneCount === seg.entries.length) {
      this.#marks.delete(seg)
      this.#chainMarks(() => this.#deleteSegment(seg))
    } else {
      const list = this.#marks.get(seg) ?? []
      list.push(e.index)
      this.#marks.set(seg, list)
      if (!this.#marksScheduled) {
        this.#marksScheduled = true
        setImmediate(() => { this.#marksScheduled = false; this.#chainMarks(() => this.#writeMarks()) })
      }
    }
    this.#updateGauges()
  }

  /** Stops intake: appends waiting for room or for a failing write are refused (their messages stay with the broker). */
  stopAccepting (): void {
    this.#closed = true
    const q = this.#writing ? [] : this.#queue.splice(0)
    for (const w of q) w.reject(new IotlessError('SPOOL_UNAVAILABLE', 'the spool is closing'))
  }

  /** Writes the last marks, closes the files, and deletes the active segment when all of it was delivered. */
  async close (): Promise<void> {
    this.stopAccepting()
    while (this.#writing) await new Promise((resolve) => setImmediate(resolve))
    for (const w of this.#queue.splice(0)) w.reject(new IotlessError('SPOOL_UNAVAILABLE', 'the spool is closing'))
    if (this.#retryTimer !== undefined) this.#o.clock.clearTimeout(this.#retryTimer)
    if (this.#ageTimer !== undefined) clearInterval(this.#ageTimer)
    this.#chainMarks(() => this.#writeMarks())
    await this.#marksChain
    for (const seg of [...this.#segments]) {
      if (seg.doneCount === seg.entries.length) await this.#deleteSegment(seg)
      else {
        if (this.#o.fsync) await seg.marks?.datasync().catch(() => undefined)
        await seg.fh.close().catch(() => undefined)
        await seg.marks?.close().catch(() => undefined)
      }
    }
    await rm(join(this.#o.dir, 'LOCK'), { force: true })
  }

  /** One adapter per spool: a LOCK file with its pid; a lock left by a process that is gone (kill -9) is taken over. */
  async #lock (): Promise<void> {
    const file = join(this.#o.dir, 'LOCK')
    let other: number | undefined
    try {
      other = Number((await readFile(file, 'utf8')).trim())
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    if (other !== undefined && Number.isInteger(other) && other > 0 && other !== process.pid && alive(other)) {
      throw new IotlessError('SPOOL_UNAVAILABLE', `${this.#o.field}: the spool folder "${this.#o.dir}" is in use by process ${other} (another adapter); give each adapter its own`)
    }
    await writeFile(file, `${process.pid}\n`)
  }

  async #recover (): Promise<void> {
    const names = (await readdir(this.#o.dir)).filter((n) => SEGMENT_NAME.test(n)).sort()
    let lost = 0
    for (const name of names) {
      const path = join(this.#o.dir, name)
      const first = Number(SEGMENT_NAME.exec(name)?.[1])
      const raw = await readFile(path)
      const { records, goodBytes } = decodeSegment(raw)
      const fh = await open(path, 'r+')
      if (goodBytes < raw.length) {
        // A write cut short: those records never resolved append(), so they were never acknowledged.
        lost += raw.length - goodBytes
        await fh.truncate(goodBytes)
      }
      const marksPath = path.replace(/\.log$/, '.marks')
      let doneSet = new Set<number>()
      try { doneSet = decodeMarks(await readFile(marksPath)) } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err }
      const seg: Segment = { first, path, marksPath, fh, marks: undefined, marksSize: 0, size: goodBytes, entries: [], doneCount: 0, sealed: true, broken: false, deleted: false }
      records.forEach((r, index) => {
        const done = doneSet.has(index)
        const e: SpoolEntry = { seq: r.record.seq, receivedAt: r.record.receivedAt, segment: seg, index, offset: r.offset, bytes: r.bytes, msg: undefined, state: done ? 'done' : 'pending' }
        seg.entries.push(e)
        if (done) { seg.doneCount++; return }
        this.#live++
        this.#keepMsg(e, r.record.msg)
        this.#pending.push(e)
      })
      this.#nextSeq = Math.max(this.#nextSeq, first, ...records.map((r) => r.record.seq + 1))
      this.#segments.push(seg)
      this.#fileBytes += goodBytes
      if (seg.doneCount === seg.entries.length) await this.#deleteSegment(seg)
      else {
        seg.marks = await open(marksPath, 'a')
        seg.marksSize = (await seg.marks.stat()).size
      }
    }
    if (lost > 0) this.#o.log.warn({ code: 'SPOOL_UNAVAILABLE', bytes: lost, dir: this.#o.dir }, 'the spool ended in a record cut short (a crash mid-write, never acknowledged): cut off')
    if (this.#live > 0) this.#o.log.warn({ messages: this.#live, dir: this.#o.dir }, 'spooled messages from the previous run: delivering them')
    // Probe that new segments can be created here now, so a read-only folder stops start-up.
    await this.#roll(this.#nextSeq)
  }

  #keepMsg (e: SpoolEntry, msg: InboundMessage): void {
    if (this.#memBytes + e.bytes > this.#o.memoryBytes) return
    e.msg = msg
    this.#memBytes += e.bytes
  }

  #dropMsg (e: SpoolEntry): void {
    if (e.msg === undefined) return
    e.msg = undefined
    this.#memBytes -= e.bytes
  }

  #schedule (): void {
    if (this.#writing || this.#scheduled || this.#queue.length === 0 || this.#retryTimer !== undefined) return
    this.#scheduled = true
    setImmediate(() => { this.#scheduled = false; void this.#commit() })
  }

  /** One group commit: as many waiting records as fit, one write, one fdatasync. */
  async #commit (): Promise<void> {
    if (this.#writing) return
    const o = this.#o
    let n = 0
    let bytes = 0
    // At most a segment's worth per commit (so segments stay small enough to be freed), and only what fits.
    while (n < this.#queue.length) {
      const next = (this.#queue[n] as Waiter).buf.length
      if (this.#fileBytes + bytes + next > o.maxBytes || (n > 0 && bytes + next > o.segmentBytes)) break
      bytes += next
      n++
    }
    if (n === 0) {
      const active = this.#active
      if (active !== undefined && active.entries.length > 0 && active.doneCount === active.entries.length) {
        // The segment being written to is all delivered: close it and delete it, which makes room.
        active.sealed = true
        this.#active = undefined
        this.#chainMarks(() => this.#deleteSegment(active))
        return
      }
      if (!this.#full && this.#queue.length > 0) {
        this.#full = true
        o.log.warn({ code: 'SPOOL_FULL', bytes: this.#fileBytes, maxBytes: o.maxBytes, messages: this.#live }, 'the spool is full (adapter.spool.maxBytes): taking no more messages from the broker until some are delivered')
        this.#updateGauges()
      }
      return
    }
    if (this.#full) {
      this.#full = false
      o.log.warn({ code: 'SPOOL_FULL', bytes: this.#fileBytes }, 'the spool has room again: taking messages from the broker')
    }
    this.#writing = true
    const group = this.#queue.slice(0, n)
    const started = performance.now()
    try {
      let seg = this.#active
      if (seg === undefined || seg.broken || seg.size >= o.segmentBytes) seg = await this.#roll((group[0] as Waiter).seq)
      const buf = group.length === 1 ? (group[0] as Waiter).buf : Buffer.concat(group.map((w) => w.buf), bytes)
      try {
        await o.io.write(seg.fh, buf, seg.size)
        if (o.fsync) await o.io.datasync(seg.fh)
      } catch (err) {
        // Cut the file back to its good part, so a later record does not follow a torn one; if that fails too,
        // the segment takes no more records (reading it back stops at the torn record: none of those was acknowledged).
        await seg.fh.truncate(seg.size).catch(() => { (seg as Segment).broken = true })
        throw err
      }
      o.metrics?.spoolCommitSeconds.observe((performance.now() - started) / 1000)
      this.#queue.splice(0, n)
      let offset = seg.size
      for (const w of group) {
        const e: SpoolEntry = { seq: w.seq, receivedAt: w.receivedAt, segment: seg, index: seg.entries.length, offset, bytes: w.buf.length, msg: undefined, state: 'pending' }
        offset += w.buf.length
        seg.entries.push(e)
        this.#keepMsg(e, w.msg)
        this.#pending.push(e)
        this.#live++
      }
      seg.size = offset
      this.#fileBytes += bytes
      o.metrics?.spoolAppended.inc(group.length)
      if (this.#failing) {
        this.#failing = false
        o.log.warn({ code: 'SPOOL_WRITE_FAILED' }, 'spool writes pass again: taking messages from the broker')
      }
      this.#writing = false
      for (const w of group) w.resolve()
      this.#updateGauges()
      this.#notify()
    } catch (err) {
      this.#writing = false
      o.metrics?.spoolWriteErrors.inc()
      if (!this.#failing) {
        this.#failing = true
        o.log.error({ code: 'SPOOL_WRITE_FAILED', err: (err as Error).message, dir: o.dir }, 'a spool write failed (a full disk?): the messages stay unacknowledged with the broker and intake waits; tried again every second')
      }
      this.#updateGauges()
      if (this.#closed) { this.stopAccepting(); return }
      this.#retryTimer = o.clock.setTimeout(() => { this.#retryTimer = undefined; this.#schedule() }, o.retryMs)
      return
    }
    if (this.#closed) { this.stopAccepting(); return }
    this.#schedule()
  }

  /** Seals the active segment and begins a new one, named after the first sequence number it will hold. */
  async #roll (first: number): Promise<Segment> {
    const prev = this.#active
    const path = join(this.#o.dir, `seg-${String(first).padStart(16, '0')}.log`)
    const fh = await open(path, 'w+')
    // The new file's name must survive a power cut too: fsync the folder.
    if (this.#o.fsync) await syncDir(this.#o.dir)
    const seg: Segment = { first, path, marksPath: path.replace(/\.log$/, '.marks'), fh, marks: undefined, marksSize: 0, size: 0, entries: [], doneCount: 0, sealed: false, broken: false, deleted: false }
    this.#segments.push(seg)
    this.#active = seg
    if (prev !== undefined) {
      prev.sealed = true
      if (prev.doneCount === prev.entries.length) {
        this.#marks.delete(prev)
        this.#chainMarks(() => this.#deleteSegment(prev))
      }
    }
    return seg
  }

  #chainMarks (step: () => Promise<void>): void {
    this.#marksChain = this.#marksChain.then(step).catch((err: unknown) => {
      this.#o.log.error({ code: 'SPOOL_WRITE_FAILED', err: (err as Error).message }, 'writing spool delivery marks failed: those messages may be delivered again after a restart')
    })
  }

  async #writeMarks (): Promise<void> {
    const batch = this.#marks
    this.#marks = new Map()
    for (const [seg, indices] of batch) {
      if (seg.deleted) continue
      if (seg.marks === undefined) {
        seg.marks = await open(seg.marksPath, 'a')
        seg.marksSize = (await seg.marks.stat()).size
      }
      const buf = encodeMarks(indices)
      await this.#o.io.write(seg.marks, buf, seg.marksSize)
      seg.marksSize += buf.length
    }
  }

  async #deleteSegment (seg: Segment): Promise<void> {
    if (seg.deleted) return
    seg.deleted = true
    const k = this.#segments.indexOf(seg)
    if (k >= 0) this.#segments.splice(k, 1)
    if (this.#active === seg) this.#active = undefined
    await seg.fh.close().catch(() => undefined)
    await seg.marks?.close().catch(() => undefined)
    await rm(seg.path, { force: true })
    await rm(seg.marksPath, { force: true })
    this.#fileBytes -= seg.size
    this.#updateGauges()
    // Room again: a full spool's waiting appends go on.
    this.#schedule()
  }

  #notify (): void {
    for (const cb of this.#onAvailable) cb()
  }

  #updateGauges (): void {
    const m = this.#o.metrics
    if (m === undefined) return
    m.spoolMessages.set(this.#live)
    m.spoolBytes.set(this.#fileBytes)
    m.spoolBackpressure.set(this.backpressure ? 1 : 0)
  }

  #updateAge (): void {
    const oldest = this.oldestReceivedAt
    this.#o.metrics?.spoolOldestAge.set(oldest === undefined ? 0 : Math.max(0, (this.#o.clock.now() - oldest) / 1000))
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}
