/**
 * The placement bench's work (bench/placement/run.ts): real inputs of several sizes for two built-in functions,
 * and arrivals whose rate follows one real trace's shape.
 * - text-detect: test/fixtures/images/text.png scaled to WIDTHS (JPEG);
 * - voice-activity: the first CLIP_S seconds of test/fixtures/audio/speech.pcm (16 kHz s16le), each clip a whole
 *   stream of its own (`streamend: true`), so no tier holds state another needs;
 * - arrivals: Poisson, per second at a rate following SHAPE (the per-minute counts of the busiest http function
 *   of the Azure 2019 trace, c319389f6c39, minutes 480-519; one trace minute per bench second), mean `rate`/s.
 */
import { readFileSync } from 'node:fs'
import sharp from 'sharp'
import type { OutgoingEvent } from '../../adapters/target.js'

export const WIDTHS = [160, 480, 960, 1920]
export const CLIP_S = [0.5, 2, 6]
export const SHAPE = [18, 21, 22, 25, 35, 31, 24, 15, 41, 21, 21, 34, 29, 24, 15, 25, 14, 30, 37, 26, 21, 25, 27, 25, 32, 33, 32, 30, 24, 19, 26, 22, 26, 25, 19, 32, 29, 23, 23, 23]

export type FunctionName = 'text-detect' | 'voice-activity'
export interface Input { fn: FunctionName; label: string; data: Buffer }
export interface Arrival { atMs: number; input: number }

export async function loadInputs (repoRoot: string): Promise<Input[]> {
  const png = readFileSync(`${repoRoot}/test/fixtures/images/text.png`)
  const pcm = readFileSync(`${repoRoot}/test/fixtures/audio/speech.pcm`)
  const frames = await Promise.all(WIDTHS.map(async (w) => ({ fn: 'text-detect' as const, label: `frame ${w} px`, data: await sharp(png).resize({ width: w }).jpeg({ quality: 90 }).toBuffer() })))
  const clips = CLIP_S.map((s) => ({ fn: 'voice-activity' as const, label: `clip ${s} s`, data: pcm.subarray(0, Math.min(pcm.length, Math.round(s * 16000) * 2)) }))
  return [...frames, ...clips]
}

export function seeded (seed: number): () => number {
  let s = seed
  return () => { s = (s * 48271) % 2147483647; return s / 2147483647 }
}

/** Arrivals for `seconds`, mean `rate` per second shaped by SHAPE; a share `audioShare` of them voice-activity clips. */
export function schedule (seed: number, seconds: number, rate: number, inputs: readonly Input[], audioShare: number): Arrival[] {
  const r = seeded(seed)
  const mean = SHAPE.reduce((a, b) => a + b, 0) / SHAPE.length
  const frames = inputs.flatMap((x, i) => x.fn === 'text-detect' ? [i] : [])
  const clips = inputs.flatMap((x, i) => x.fn === 'voice-activity' ? [i] : [])
  const out: Arrival[] = []
  for (let s = 0; s < seconds; s++) {
    const perS = rate * (SHAPE[s % SHAPE.length] as number) / mean
    let t = s * 1000
    for (;;) {
      t += -Math.log(1 - r()) / perS * 1000
      if (t >= (s + 1) * 1000) break
      const from = r() < audioShare ? clips : frames
      out.push({ atMs: t, input: from[Math.floor(r() * from.length)] as number })
    }
  }
  return out
}

export function event (input: Input, id: string): OutgoingEvent {
  return input.fn === 'text-detect'
    ? { attributes: { specversion: '1.0', id, source: 'bench', type: 'frame', datacontenttype: 'image/jpeg' }, data: input.data }
    : { attributes: { specversion: '1.0', id, source: 'bench', type: 'audio', datacontenttype: 'application/octet-stream', streamid: id, streamend: 'true' }, data: input.data }
}
