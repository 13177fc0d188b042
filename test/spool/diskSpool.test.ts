// The disk spool against real files in a temporary folder (listed in test/integrationTests.ts).
import t, { type Test } from 'tap'
import { chmodSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { systemClock } from '../../core/clock.js'
import { IotlessError } from '../../core/errors.js'
import { DiskSpool, realSpoolIo, type SpoolIo } from '../../adapters/spool/diskSpool.js'
import type { InboundMessage } from '../../adapters/ingress/messagePipeline.js'
import { memoryLog } from '../helpers/silentLog.js'

const log = memoryLog('fatal').log
const msg = (i: number, bytes = 100): InboundMessage => ({ topic: `t/${i}`, payload: Buffer.alloc(bytes, i % 256), qos: 1, messageId: (i % 65535) + 1, properties: undefined })

function folder (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-spool-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const opts = (dir: string, extra: Partial<Parameters<typeof DiskSpool.open>[0]> = {}): Parameters<typeof DiskSpool.open>[0] => ({ dir, maxBytes: 4 * 1024 * 1024, fsync: true, memoryBytes: 1 << 20, clock: systemClock, log, ...extra })

function takeAll (s: DiskSpool): Array<NonNullable<ReturnType<DiskSpool['take']>>> {
  const out = []
  for (let e = s.take(); e !== undefined; e = s.take()) out.push(e)
  return out
}

t.test('appends are durable when they resolve; a reopened spool (after a crash: no close) gives back exactly the undelivered ones', async (t) => {
  const dir = folder(t)
  const a = await DiskSpool.open(opts(dir, { segmentBytes: 2000 }))
  for (let k = 0; k < 10; k++) await Promise.all(Array.from({ length: 10 }, (_, i) => a.append(msg(k * 10 + i))))
  t.equal(a.messages, 100)
  t.ok(a.segmentCount > 3, `several segments (${a.segmentCount})`)
  const taken = takeAll(a)
  t.same(taken.map((e) => e.seq), Array.from({ length: 100 }, (_, i) => i), 'in append order')
  for (const e of taken) if (e.seq % 3 === 0) a.done(e)
  await new Promise((resolve) => setTimeout(resolve, 50)) // the marks' group write
  // No close(): the process "dies" here. The same pid holds the LOCK, which a restart takes over.
  const b = await DiskSpool.open(opts(dir, { segmentBytes: 2000 }))
  const again = takeAll(b)
  t.same(again.map((e) => e.seq), Array.from({ length: 100 }, (_, i) => i).filter((i) => i % 3 !== 0), 'exactly the undelivered ones, in order')
  const m = await b.load(again[0] as NonNullable<typeof again[0]>)
  t.equal(m.topic, 't/1')
  t.equal(m.payload.length, 100)
  t.type(m.receivedAt, 'number')
  for (const e of again) b.done(e)
  await b.close()
  t.same(readdirSync(dir).filter((n) => n.endsWith('.log')), [], 'every delivered segment deleted')
  const c = await DiskSpool.open(opts(dir))
  t.equal(c.messages, 0)
  t.equal(c.take(), undefined)
  await c.close()
})

t.test('messages read back from disk when memoryBytes is exceeded', async (t) => {
  const dir = folder(t)
  const s = await DiskSpool.open(opts(dir, { memoryBytes: 0 }))
  await Promise.all([s.append(msg(1)), s.append(msg(2))])
  const [e1] = takeAll(s)
  t.equal(e1?.msg, undefined, 'not kept in memory')
  t.equal((await s.load(e1 as NonNullable<typeof e1>)).topic, 't/1')
  await s.close()
})

t.test('a record torn by a crash mid-write is cut off; the good ones before it stay', async (t) => {
  const dir = folder(t)
  const a = await DiskSpool.open(opts(dir))
  await Promise.all([1, 2, 3].map((i) => a.append(msg(i))))
  const seg = readdirSync(dir).find((n) => n.endsWith('.log')) as string
  truncateSync(join(dir, seg), statSync(join(dir, seg)).size - 7)
  const b = await DiskSpool.open(opts(dir))
  t.same(takeAll(b).map((e) => e.seq), [0, 1], 'the torn third record is gone (its append never resolved, so it was never acknowledged)')
  await b.append(msg(9))
  await b.close()
  const c = await DiskSpool.open(opts(dir))
  t.same(takeAll(c).map((e) => e.seq), [0, 1, 2], 'and what came after the cut is read back (seq 2 again: the torn one was never acknowledged)')
  await c.close()
})

t.test('full: appends wait (in order) and go on once delivered messages free a segment; none dropped', async (t) => {
  const dir = folder(t)
  const s = await DiskSpool.open(opts(dir, { maxBytes: 20_000, segmentBytes: 4096 }))
  const done: number[] = []
  const appends = Array.from({ length: 300 }, (_, i) => s.append(msg(i)).then(() => { done.push(i) }))
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.ok(done.length < 300 && done.length > 50, `${done.length} of 300 in before it filled`)
  t.ok(s.backpressure, 'backpressure')
  t.ok(s.bytes <= 20_000, `${s.bytes} bytes <= maxBytes`)
  // Deliver as they come, until all are in.
  while (done.length < 300) {
    for (const e of takeAll(s)) s.done(e)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await Promise.all(appends)
  t.same(done, Array.from({ length: 300 }, (_, i) => i), 'all appended, in order')
  t.notOk(s.backpressure)
  await s.close()
})

t.test('ENOSPC: the append waits (not acknowledged), the file is cut back, and it passes once the disk has room; nothing lost or torn', async (t) => {
  const dir = folder(t)
  let failures = 3
  const io: SpoolIo = {
    async write (fh, buf, pos) {
      if (failures > 0) {
        failures--
        // A partial write, then the error: what a full disk does.
        await fh.write(buf, 0, Math.floor(buf.length / 2), pos)
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
      }
      await realSpoolIo.write(fh, buf, pos)
    },
    datasync: realSpoolIo.datasync
  }
  // The system clock's timers are unref'd (the adapter's sockets keep a real process alive): hold the loop here.
  const keep = setInterval(() => undefined, 1000)
  t.teardown(() => clearInterval(keep))
  const s = await DiskSpool.open(opts(dir, { io, retryMs: 20 }))
  let resolved = false
  const p = Promise.all([s.append(msg(1)), s.append(msg(2))]).then(() => { resolved = true })
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.notOk(resolved, 'not resolved while the disk is full (the message stays unacknowledged with the broker)')
  t.ok(s.backpressure)
  await p
  t.equal(failures, 0)
  t.notOk(s.backpressure)
  await s.append(msg(3))
  const reopened = await DiskSpool.open(opts(dir))
  t.same(takeAll(reopened).map((e) => e.seq), [0, 1, 2], 'each message once, no torn record left between them')
  await reopened.close()
})

t.test('closing refuses appends waiting for room (their messages stay with the broker)', async (t) => {
  const dir = folder(t)
  const s = await DiskSpool.open(opts(dir, { maxBytes: 5000, segmentBytes: 4096 }))
  const results = await Promise.allSettled(Array.from({ length: 100 }, (_, i) => s.append(msg(i))).concat([s.close().then(() => undefined)]))
  const refused = results.filter((r) => r.status === 'rejected')
  t.ok(refused.length > 0, `${refused.length} refused`)
  t.equal(((refused[0] as PromiseRejectedResult).reason as IotlessError).code, 'SPOOL_UNAVAILABLE')
})

t.test('a folder that cannot be opened stops start-up with SPOOL_UNAVAILABLE naming adapter.spool.dir', async (t) => {
  const dir = folder(t)
  const file = join(dir, 'a-file')
  writeFileSync(file, 'x')
  await t.rejects(DiskSpool.open(opts(join(file, 'spool'))), { code: 'SPOOL_UNAVAILABLE', message: /adapter\.spool\.dir/ })
  if (process.getuid?.() !== 0) {
    const ro = join(dir, 'ro')
    await (await DiskSpool.open(opts(ro))).close()
    chmodSync(ro, 0o500)
    t.teardown(() => chmodSync(ro, 0o700))
    await t.rejects(DiskSpool.open(opts(ro)), { code: 'SPOOL_UNAVAILABLE', message: /adapter\.spool\.dir/ })
  }
  // Held by another live process.
  const held = join(dir, 'held')
  await (await DiskSpool.open(opts(held))).close()
  writeFileSync(join(held, 'LOCK'), `${process.ppid}\n`)
  await t.rejects(DiskSpool.open(opts(held)), { code: 'SPOOL_UNAVAILABLE', message: /in use by process/ })
})
