// The effectively-once run of issue 14, shared by the test (small) and the benchmark (full size): N QoS 1
// messages through a real Mosquitto to `iotless adapter` (a child process, the real CLI), whose route sends
// them to an HTTP target that refuses a share of requests (503) and counts the rest with once() in an effect
// store (the counting function with a side effect, hosted here like a Knative Service); the adapter is killed
// with SIGKILL at seeded random moments and restarted each time.
import { spawn, type ChildProcess } from 'node:child_process'
import { once as onceEvent } from 'node:events'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { memoryEffectStore } from '../../effects/memoryStores.js'
import { collector, publisher } from './mqttCollector.js'
import { httpReceiver } from './httpReceiver.js'
import { cliPath } from './paths.js'
import { waitFor } from './waitFor.js'
import { seededRandom } from '../../core/seededRandom.js'

export interface KillRunOptions {
  mosquittoUrl: string
  /** A fresh folder for the config and the SQLite files. */
  dir: string
  prefix: string
  messages: number
  kills: number
  seed: number
  /** Share of requests the target refuses with 503, in [0, 1). */
  refuse: number
  /** adapter.dedup.url, or none. */
  dedupUrl?: string | undefined
  /** Kill moments: uniformly random in [minMs, maxMs] after each (re)start. */
  killAfterMs?: [number, number] | undefined
  timeoutMs?: number | undefined
  /** Publish at this many messages/s (latency at a moderate load) instead of all at once (throughput). */
  rate?: number | undefined
  /** adapter.maxInFlight (default 64). */
  maxInFlight?: number | undefined
  /** Node flags for the adapter process (e.g. --cpu-prof to profile it). */
  execArgv?: string[] | undefined
  /** adapter.maxUnacked (default max(1024, maxInFlight)). */
  maxUnacked?: number | undefined
  /** adapter.spool on (a folder under dir), with adapter.spool.fsync as given (default true). */
  spool?: { fsync?: boolean | undefined; maxBytes?: number | undefined } | undefined
  /** Pad each message's payload to about this many bytes. */
  payloadBytes?: number | undefined
  /** adapter.maxPayloadBytes. */
  maxPayloadBytes?: number | undefined
  /** Expect loss: stop waiting once the count has not moved for this long (else wait for every message). */
  settleMs?: number | undefined
  /** The target is down (every connection reset before an answer) from atMs after the first publish, for forMs. */
  outage?: { atMs: number; forMs: number } | undefined
}

export interface KillRunResult {
  /** Messages whose count is exactly 1. */
  exact: number
  /** Messages never counted. */
  missing: number
  /** Messages counted more than once (duplicate effects). */
  overCounted: number
  /** Requests the target answered 200, and those beyond one per message (re-dispatches the effect log absorbed). */
  okDispatches: number
  duplicateDispatches: number
  refused: number
  /** Connections the target reset while down (outage). */
  resets: number
  deadLetters: number
  killsDone: number
  /** From the first message published to the last one counted. */
  elapsedMs: number
  /** Publish -> first counted, per message, median and 99th percentile (ms). */
  p50Ms: number
  p99Ms: number
}

export async function killRun (o: KillRunOptions): Promise<KillRunResult> {
  const rnd = seededRandom(o.seed)
  const effects = memoryEffectStore()
  const okPerId = new Map<string, number>()
  const latencies: number[] = []
  /** Subjects whose count went from 0 to 1 (cheap progress; the final check reads the store). */
  const countedTopics = new Set<string>()
  let refused = 0
  let down = false
  let resets = 0
  const receiver = await httpReceiver((req, res) => {
    if (down) { resets++; res.socket?.destroy(); return }
    if (rnd() < o.refuse) { refused++; res.statusCode = 503; res.end(); return }
    const id = String(req.headers['ce-id'])
    const subject = String(req.headers['ce-subject'])
    effects.once(id, 'count', (tx) => tx.incr(`count/${subject}`)).then((r) => {
      if (!r.replayed) countedTopics.add(subject)
      const n = okPerId.get(id) ?? 0
      okPerId.set(id, n + 1)
      if (n === 0) {
        try {
          const sent = (JSON.parse(req.body.toString()) as { t?: number }).t
          if (typeof sent === 'number') latencies.push(Date.now() - sent)
        } catch { /* the probe */ }
      }
      res.end()
    }, () => { res.statusCode = 500; res.end() })
  })
  // Keep only the bodies' absence: the receiver's log would hold every request.
  const kept = setInterval(() => { receiver.received.length = 0 }, 200)
  const file = join(o.dir, 'iotless.yaml')
  writeFileSync(file, JSON.stringify({
    broker: { url: o.mosquittoUrl, clientId: `${o.prefix}-adapter`, sessionExpirySeconds: 600 },
    metrics: { enabled: false },
    log: { level: 'error' },
    prefetch: { enabled: false },
    targets: { counter: { kind: 'sink', timeoutMs: 10_000 } },
    adapter: {
      maxAttempts: 100,
      ...(o.maxInFlight === undefined ? {} : { maxInFlight: o.maxInFlight, maxUnacked: Math.max(1024, o.maxInFlight) }),
      ...(o.maxUnacked === undefined ? {} : { maxUnacked: o.maxUnacked }),
      retryBaseMs: 5,
      deadLetterTopic: `${o.prefix}/dlq`,
      shutdownGraceMs: 5000,
      ...(o.dedupUrl === undefined ? {} : { dedup: { url: o.dedupUrl } }),
      ...(o.spool === undefined ? {} : { spool: { dir: join(o.dir, 'spool'), fsync: o.spool.fsync ?? true, ...(o.spool.maxBytes === undefined ? {} : { maxBytes: o.spool.maxBytes }) } }),
      ...(o.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: o.maxPayloadBytes })
    },
    routes: [{ topic: `${o.prefix}/r/+`, function: 'count', target: 'counter', qos: 1 }]
  }))
  const dlq = await collector(o.mosquittoUrl, `${o.prefix}/dlq`)
  const children: ChildProcess[] = []
  const start = (): { child: ChildProcess; exited: Promise<unknown[]> } => {
    const child = spawn(process.execPath, [...(o.execArgv ?? []), cliPath, 'adapter', '-c', file], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, K_SINK: receiver.url } })
    children.push(child)
    return { child, exited: onceEvent(child, 'exit') }
  }
  const counted = async (topic: string): Promise<number> => Number(await effects.get(`count/${topic}`) ?? 0)
  const topics = Array.from({ length: o.messages }, (_, i) => `${o.prefix}/r/m${i}`)
  let doneCount = 0
  const countDone = async (): Promise<number> => {
    let n = countedTopics.size
    if (countedTopics.has(`${o.prefix}/r/probe`)) n--
    doneCount = n
    return n
  }
  const started = Date.now()
  let killsDone = 0
  try {
    let current = start()
    // The adapter's session exists once it has subscribed: a probe counted says so.
    await waitFor('the adapter counts a probe', async () => {
      const pub = await publisher(o.mosquittoUrl)
      await pub.publishAsync(`${o.prefix}/r/probe`, '{}', { qos: 1 })
      await pub.endAsync()
      return await counted(`${o.prefix}/r/probe`) > 0
    }, 30_000, 500)
    const t0 = Date.now()
    const outage = o.outage
    const outageTimers = outage === undefined
      ? []
      : [setTimeout(() => { down = true }, outage.atMs), setTimeout(() => { down = false }, outage.atMs + outage.forMs)]
    if (outage !== undefined && outage.atMs === 0) down = true
    const pub = await publisher(o.mosquittoUrl)
    const send = (i: number): Promise<unknown> => pub.publishAsync(topics[i] as string, JSON.stringify({ i, t: Date.now(), ...(o.payloadBytes === undefined ? {} : { pad: 'x'.repeat(o.payloadBytes) }) }), { qos: 1 })
    const publishing = o.rate === undefined
      ? Promise.all(topics.map((_t, i) => send(i)))
      : (async () => {
          const sends: Array<Promise<unknown>> = []
          for (let i = 0; i < topics.length; i++) {
            const due = t0 + (i * 1000) / (o.rate as number)
            if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()))
            sends.push(send(i))
          }
          await Promise.all(sends)
        })()
    const [lo, hi] = o.killAfterMs ?? [300, 1500]
    for (let k = 0; k < o.kills; k++) {
      await new Promise((resolve) => setTimeout(resolve, lo + rnd() * (hi - lo)))
      if (await countDone() === o.messages) break
      current.child.kill('SIGKILL')
      await current.exited
      killsDone++
      current = start()
    }
    await publishing
    await pub.endAsync()
    // Nothing can be counted while the target is down: wait for the outage to end before the deadline runs.
    if (outage !== undefined) await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + outage.atMs + outage.forMs - Date.now())))
    // This wait can end just before the timer that ends the outage (both are due at about the same moment): end it here.
    for (const t of outageTimers) clearTimeout(t)
    down = false
    if (o.settleMs === undefined) {
      await waitFor(`all ${o.messages} counted`, async () => await countDone() === o.messages, o.timeoutMs ?? 300_000, 200)
    } else {
      // Loss is possible (no spool, a broker that drops): done when all are counted or the count stops moving.
      let last = -1
      let since = Date.now()
      await waitFor(`all ${o.messages} counted, or no progress for ${o.settleMs} ms`, async () => {
        const n = await countDone()
        if (n !== last) { last = n; since = Date.now() }
        return n === o.messages || Date.now() - since >= (o.settleMs as number)
      }, o.timeoutMs ?? 300_000, 200)
    }
    const elapsedMs = Date.now() - t0
    // Stragglers: give redeliveries in flight time to show up as duplicates.
    await new Promise((resolve) => setTimeout(resolve, 1000))
    current.child.kill('SIGTERM')
    await current.exited
    let exact = 0
    let missing = 0
    let overCounted = 0
    for (const t of topics) {
      const c = await counted(t)
      if (c === 1) exact++
      else if (c === 0) missing++
      else overCounted++
    }
    let okDispatches = 0
    for (const n of okPerId.values()) okDispatches += n
    void doneCount
    return { exact, missing, overCounted, okDispatches, duplicateDispatches: okDispatches - okPerId.size, refused, resets, deadLetters: dlq.received.length, killsDone, elapsedMs: elapsedMs || Date.now() - started, p50Ms: percentile(latencies, 0.5), p99Ms: percentile(latencies, 0.99) }
  } finally {
    clearInterval(kept)
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    await dlq.close()
    await receiver.close()
  }
}

function percentile (xs: number[], q: number): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number
}
