/**
 * Turns Silero VAD's per-window speech probabilities into speech segments, as silero-vad's VADIterator
 * does (utils_vad.py): speech starts at the first window at or above `threshold`, and ends once the
 * probability has stayed below `threshold - 0.15` for `minSilenceMs`; segments are padded by `speechPadMs`
 * and those shorter than `minSpeechMs` are dropped. Positions are in samples from the stream's start.
 */
export interface SegmenterOptions {
  sampleRate: number
  threshold: number
  minSilenceMs: number
  speechPadMs: number
  minSpeechMs: number
}

export const SEGMENTER_DEFAULTS: SegmenterOptions = { sampleRate: 16000, threshold: 0.5, minSilenceMs: 100, speechPadMs: 30, minSpeechMs: 250 }

export interface Segment { startMs: number; endMs: number }

export class SpeechSegmenter {
  readonly #o: SegmenterOptions
  #triggered = false
  #start = 0
  #tempEnd = 0
  /** Samples consumed so far (the end of the last window). */
  position = 0

  constructor (opts: SegmenterOptions = SEGMENTER_DEFAULTS) { this.#o = opts }

  get speaking (): boolean { return this.#triggered }
  get openStartMs (): number | undefined { return this.#triggered ? this.#ms(this.#start) : undefined }

  #ms (samples: number): number { return Math.round(samples * 1000 / this.#o.sampleRate) }

  #segment (start: number, end: number): Segment | undefined {
    const minSpeech = this.#o.minSpeechMs * this.#o.sampleRate / 1000
    return end - start < minSpeech ? undefined : { startMs: this.#ms(start), endMs: this.#ms(end) }
  }

  /** Feeds the probability of the next window of `windowSamples`; returns a segment when one has just ended. */
  push (prob: number, windowSamples: number): Segment | undefined {
    const windowStart = this.position
    this.position += windowSamples
    const pad = this.#o.speechPadMs * this.#o.sampleRate / 1000
    if (prob >= this.#o.threshold && this.#tempEnd !== 0) this.#tempEnd = 0
    if (prob >= this.#o.threshold && !this.#triggered) {
      this.#triggered = true
      this.#start = Math.max(0, windowStart - pad)
      return undefined
    }
    if (prob < this.#o.threshold - 0.15 && this.#triggered) {
      if (this.#tempEnd === 0) this.#tempEnd = this.position
      if (this.position - this.#tempEnd < this.#o.minSilenceMs * this.#o.sampleRate / 1000) return undefined
      const end = Math.min(this.#tempEnd + pad, this.position)
      this.#triggered = false
      this.#tempEnd = 0
      return this.#segment(this.#start, end)
    }
    return undefined
  }

  /** The stream has ended: closes a segment still open at its last sample. */
  finish (): Segment | undefined {
    if (!this.#triggered) return undefined
    this.#triggered = false
    this.#tempEnd = 0
    return this.#segment(this.#start, this.position)
  }
}
