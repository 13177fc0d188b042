import * as ort from 'onnxruntime-node'
import { IotlessError } from '../../core/errors.js'
import type { Metrics } from '../../core/metrics.js'

// onnxruntime's native logger prints a red error line for a CUDA provider it cannot load, even when the
// fallback to the CPU is planned; the reason is reported through createOnnxSession's result instead.
// It must be set before the first session is created.
ort.env.logLevel = 'fatal'

export type GpuSetting = 'auto' | 'on' | 'off'
export type ExecutionProvider = 'cuda' | 'cpu'

/** `config.gpu`: auto (the default) tries CUDA and falls back to the CPU, on requires CUDA, off uses the CPU. */
export function parseGpuSetting (value: unknown): GpuSetting {
  if (value === undefined) return 'auto'
  if (value === 'auto' || value === 'on' || value === 'off') return value
  if (value === true) return 'on'
  if (value === false) return 'off'
  throw new IotlessError('FUNCTION_INIT_FAILED', `config.gpu must be auto, on or off, got ${JSON.stringify(value)}`)
}

export interface OnnxSession {
  session: ort.InferenceSession
  provider: ExecutionProvider
  /** Why CUDA was not used, when gpu was auto and it failed to load. */
  fallbackReason?: string
}

export interface SessionOptions {
  /** Threads of the CPU provider for one operator (onnxruntime's default: one per core). */
  threads?: number
  /**
   * Let idle intra-op threads spin after a run (onnxruntime's default). Off here by default: on a small
   * shared edge CPU the spinning threads burn the cores other instances need, and measured slower
   * (bench/RESULTS.md, Functions).
   */
  spin?: boolean
  /**
   * onnxruntime's CPU memory arena (its default: on). The arena keeps the largest run's buffers for good, so a
   * model fed inputs of varying size (text-detect's batches) holds its peak after the load is gone. Off, the
   * buffers are freed after each run.
   */
  cpuMemArena?: boolean
}

/**
 * Creates an inference session once (call it in init) on the provider `gpu` asks for. `on` fails with
 * FUNCTION_GPU_UNAVAILABLE when the CUDA provider cannot load (onnxruntime-node from npm without
 * ONNXRUNTIME_NODE_INSTALL=cuda12 has no CUDA libraries); `auto` then uses the CPU.
 */
export async function createOnnxSession (modelPath: string, gpu: GpuSetting, opts: SessionOptions = {}): Promise<OnnxSession> {
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    extra: { session: { intra_op: { allow_spinning: opts.spin === true ? '1' : '0' }, inter_op: { allow_spinning: opts.spin === true ? '1' : '0' } } }
  }
  if (opts.threads !== undefined) base.intraOpNumThreads = opts.threads
  if (opts.cpuMemArena !== undefined) base.enableCpuMemArena = opts.cpuMemArena
  let fallbackReason: string | undefined
  if (gpu !== 'off') {
    try {
      const session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cuda'] })
      return { session, provider: 'cuda' }
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err)
      if (gpu === 'on') {
        throw new IotlessError('FUNCTION_GPU_UNAVAILABLE',
          `gpu: on, but onnxruntime's CUDA execution provider cannot load (${reason}). Build the image with ` +
          'ONNXRUNTIME_NODE_INSTALL=cuda12 on a CUDA base image and request nvidia.com/gpu, or set gpu: auto.', { cause: err })
      }
      fallbackReason = reason
    }
  }
  const session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] })
  return fallbackReason === undefined ? { session, provider: 'cpu' } : { session, provider: 'cpu', fallbackReason }
}

/** Records the provider in use (gauge = 1) where the host exports metrics. */
export function reportProvider (metrics: Metrics | undefined, fn: string, provider: ExecutionProvider): void {
  metrics?.executionProvider.labels(fn, provider).set(1)
}

/** Times one session.run into iotless_inference_duration_seconds. */
export async function timedRun (s: OnnxSession, feeds: ort.InferenceSession.FeedsType, metrics: Metrics | undefined, fn: string): Promise<ort.InferenceSession.ReturnType> {
  const end = metrics?.inferenceDuration.startTimer({ function: fn, provider: s.provider })
  try {
    return await s.session.run(feeds)
  } finally {
    end?.()
  }
}

export { ort }
