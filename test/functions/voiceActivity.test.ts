import t from 'tap'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { CloudEvent } from 'cloudevents'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { isFunctionInputError } from '../../functions/sdk/functionInputError.js'
import { defineFunction, type HandleResult } from '../../functions/sdk/defineFunction.js'
import { startKnativeServer } from '../../functions/sdk/knativeServer.js'
import voiceActivity, { type VoiceActivityReply, type VoiceActivityState } from '../../functions/voice-activity/index.js'
import type { Segment } from '../../functions/voice-activity/speechSegmenter.js'
import { repoRoot } from '../helpers/paths.js'

const dir = resolve(repoRoot, 'test/fixtures/audio')
const pcm = readFileSync(resolve(dir, 'speech.pcm'))
const truth = JSON.parse(readFileSync(resolve(dir, 'speech.json'), 'utf8')) as { speechStartMs: number; speechEndMs: number; samples: number }
/** Padding, one 32 ms window and the 100 ms of silence that ends a segment: how far a segment may reach past the speech. */
const SLACK_MS = 200

// One session for the file.
const state = await (voiceActivity.init as (ctx: { name: string; config: Record<string, unknown> }) => Promise<VoiceActivityState>)({ name: 'voice-activity', config: { gpu: 'auto' } })
const ctx = { name: 'voice-activity', config: {}, state }

function chunk (stream: string, data: Buffer | undefined, extra: Record<string, string> = {}): CloudEvent<unknown> {
  return new CloudEvent<unknown>({ specversion: '1.0', id: `${stream}-${Math.random()}`, source: '/mic', type: 'dev.test.audio', streamid: stream, datacontenttype: 'application/octet-stream', data, ...extra }, false)
}

async function call (ev: CloudEvent<unknown>, c = ctx): Promise<VoiceActivityReply> {
  const r = await voiceActivity.handle(ev, c) as { data: VoiceActivityReply }
  return r.data
}

function checkSegments (t: import('tap').Test, segs: Segment[]): void {
  t.ok(segs.length >= 1, `speech found (${JSON.stringify(segs)})`)
  for (const s of segs) {
    t.ok(s.endMs > truth.speechStartMs && s.startMs < truth.speechEndMs, `segment ${s.startMs}..${s.endMs} overlaps the speech ${truth.speechStartMs}..${truth.speechEndMs}`)
    t.ok(s.startMs >= truth.speechStartMs - SLACK_MS && s.endMs <= truth.speechEndMs + SLACK_MS, 'and not the silence around it')
  }
  const covered = segs.reduce((n, s) => n + Math.min(s.endMs, truth.speechEndMs) - Math.max(s.startMs, truth.speechStartMs), 0)
  t.ok(covered >= 0.8 * (truth.speechEndMs - truth.speechStartMs), `segments cover most of the speech (${covered} ms)`)
}

t.test('the fixture is what its README says', async (t) => {
  t.equal(pcm.length, truth.samples * 2)
  t.ok(truth.speechStartMs >= 1400 && truth.speechEndMs <= truth.samples / 16 - 900, 'silence before and after the speech')
})

t.test('speech segments overlap the speech and not the silence', async (t) => {
  const r = await call(chunk('whole', pcm, { streamend: 'true' }))
  checkSegments(t, r.segments)
  t.equal(r.speaking, false)
  t.equal(r.processedMs, Math.floor(truth.samples / 512) * 512 / 16, 'whole 512-sample windows processed')
  t.equal(r.provider, state.vad.provider)
  t.notOk(state.streams.has('whole'), 'streamend drops the stream')
})

t.test('the state is kept per stream across chunks of any size', async (t) => {
  const whole = (await call(chunk('ref', pcm, { streamend: 'true' }))).segments
  const segs: Segment[] = []
  let sawOpen = false
  for (let off = 0, k = 0; off < pcm.length; k++) {
    const size = 2 * (700 + (k * 997) % 9000) // uneven chunks, not multiples of the window
    const r = await call(chunk('chunked', pcm.subarray(off, off + size)))
    segs.push(...r.segments)
    if (r.speaking) sawOpen = r.openSegmentStartMs !== undefined
    off += size
  }
  segs.push(...(await call(chunk('chunked', undefined, { streamend: 'true' }))).segments)
  t.ok(sawOpen, 'an open segment is reported while speech goes on')
  t.same(segs, whole, 'the same segments as in one piece')
})

t.test('silence gives no segments', async (t) => {
  const r = await call(chunk('quiet', Buffer.alloc(16000 * 2 * 2), { streamend: 'true' }))
  t.same(r.segments, [])
  const head = await call(chunk('head', pcm.subarray(0, 1_400 * 32), { streamend: 'true' }))
  t.same(head.segments, [], 'nor the fixture\'s leading silence')
})

t.test('bad input: wrong length, empty, not bytes, wrong rate; the stream is untouched', async (t) => {
  const first = await call(chunk('s1', pcm.subarray(0, 32_000)))
  for (const [what, ev] of [
    ['odd byte count', chunk('s1', pcm.subarray(0, 1001))],
    ['empty chunk', chunk('s1', Buffer.alloc(0))],
    ['JSON data', new CloudEvent<unknown>({ specversion: '1.0', id: 'j', source: '/mic', type: 't', streamid: 's1', data: { samples: [1, 2] } }, false)],
    ['8 kHz', chunk('s1', pcm.subarray(0, 3200), { samplerate: '8000' })]
  ] as Array<[string, CloudEvent<unknown>]>) {
    let caught: unknown
    try { await voiceActivity.handle(ev, ctx) } catch (err) { caught = err }
    t.ok(isFunctionInputError(caught), `${what}: ${(caught as Error | undefined)?.message ?? 'no error'}`)
  }
  const next = await call(chunk('s1', pcm.subarray(32_000, 64_000)))
  t.equal(first.processedMs, Math.floor(16_000 / 512) * 512 / 16)
  t.equal(next.processedMs, Math.floor(32_000 / 512) * 512 / 16, 'the stream went on where it was, the left-over samples carried')
})

t.test('a batch runs streams side by side, and one stream\'s chunks in order', async (t) => {
  const half = 2 * Math.floor(truth.samples / 2)
  const events = [
    chunk('b1', pcm, { streamend: 'true' }),
    chunk('b2', pcm.subarray(0, half)),
    chunk('b3', pcm.subarray(0, 1001)),
    chunk('b2', pcm.subarray(half), { streamend: 'true' }),
    chunk('b4', Buffer.alloc(32_000), { streamend: 'true' })
  ]
  const results = await (voiceActivity.handleBatch as NonNullable<typeof voiceActivity.handleBatch>)(events, ctx) as Array<HandleResult | Error>
  const data = (i: number) => (results[i] as { data: VoiceActivityReply }).data
  checkSegments(t, data(0).segments)
  t.ok(results[2] instanceof Error && isFunctionInputError(results[2]), 'the bad chunk fails alone')
  t.same([...data(1).segments, ...data(3).segments], data(0).segments, 'the stream split in two chunks of one batch gives the same segments')
  t.same(data(4).segments, [])
})

t.test('streams beyond maxStreams evict the least recently used', async (t) => {
  const small: VoiceActivityState = { ...state, streams: new Map(), maxStreams: 2 }
  const c = { ...ctx, state: small }
  await call(chunk('x', pcm.subarray(0, 3200)), c)
  await call(chunk('y', pcm.subarray(0, 3200)), c)
  await call(chunk('x', pcm.subarray(0, 3200)), c)
  await call(chunk('z', pcm.subarray(0, 3200)), c)
  t.same([...small.streams.keys()].sort(), ['x', 'z'])
})

t.test('over HTTP (Knative, binary mode): wrong length gets 400 and the stream goes on', async (t) => {
  const shared = defineFunction<VoiceActivityState>({ init: () => state, handle: voiceActivity.handle })
  const kn = await startKnativeServer(shared, { name: 'voice-activity', config: {} }, { port: 0, host: '127.0.0.1' })
  t.teardown(() => kn.shutdown())
  await kn.ready
  const post = (body: Buffer, extra: Record<string, string> = {}) => fetch(`http://127.0.0.1:${kn.port}/`, {
    method: 'POST', headers: toBinaryHeaders({ specversion: '1.0', id: 'h', source: '/mic', type: 't', datacontenttype: 'application/octet-stream', streamid: 'http', ...extra }), body
  })
  const bad = await post(pcm.subarray(0, 999))
  t.equal(bad.status, 400)
  t.match(await bad.json(), { code: 'FUNCTION_BAD_INPUT', error: /whole 2-byte samples/ })
  const ok = await post(pcm, { streamend: 'true' })
  t.equal(ok.status, 200)
  t.equal(ok.headers.get('ce-provider'), state.vad.provider)
  checkSegments(t, (await ok.json() as VoiceActivityReply).segments)
})

t.test('audio over maxChunkMs, or past a batch\'s maxBatchMs, is refused before decoding, naming the limit', async (t) => {
  // 10 s is the default per chunk: 11 s of silence (352,000 bytes) is refused, and the stream is not created.
  let caught: unknown
  try { await voiceActivity.handle(chunk('long', Buffer.alloc(11_000 * 32)), ctx) } catch (err) { caught = err }
  t.ok(isFunctionInputError(caught), 'FUNCTION_BAD_INPUT')
  t.match((caught as Error).message, /^maxChunkMs: the chunk is 352000 bytes = 11000 ms .*the limit is 10000/)
  t.notOk(state.streams.has('long'), 'no stream state was made for it')
  t.ok((await call(chunk('long', Buffer.alloc(10_000 * 32), { streamend: 'true' }))).processedMs > 9_900, 'exactly at the limit passes')

  // A batch of 3 s chunks under a 7 s batch budget: two run, the rest are refused (at once, in order).
  const small: VoiceActivityState = { ...state, streams: new Map(), maxBatchMs: 7_000 }
  const events = ['p', 'q', 'r', 's'].map((id) => chunk(id, pcm.subarray(0, 3_000 * 32)))
  const results = await (voiceActivity.handleBatch as NonNullable<typeof voiceActivity.handleBatch>)(events, { ...ctx, state: small })
  t.notOk(results[0] instanceof Error)
  t.notOk(results[1] instanceof Error)
  for (const i of [2, 3]) {
    const r = results[i]
    t.ok(r instanceof Error && isFunctionInputError(r), `chunk ${i} refused`)
    t.match((r as Error).message, /^maxBatchMs: .*6000 ms taken by the chunks before this one.*the limit is 7000/)
  }
  t.same([...small.streams.keys()].sort(), ['p', 'q'], 'refused chunks left no stream state')
})
