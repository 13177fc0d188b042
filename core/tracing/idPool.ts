import { randomFillSync } from 'node:crypto'

/**
 * Random trace and span ids for the compact tracer as 32-bit words, without a crypto call per id: a pool of
 * random words is filled at once and handed out; an id is written to protobuf as its words (big-endian),
 * and turned into hex only when a traceparent is read. A zero word is as likely as any other (an all-zero
 * id, invalid in W3C, comes once in 2^64). `fill` is for tests.
 */
export class IdPool {
  readonly #words: Uint32Array
  readonly #fill: (b: Uint32Array) => void
  #at: number

  constructor (size = 4096, fill: (b: Uint32Array) => void = (b) => { randomFillSync(b) }) {
    this.#words = new Uint32Array(size)
    this.#fill = fill
    this.#at = size
  }

  /** The next random 32-bit word. */
  next (): number {
    if (this.#at === this.#words.length) {
      this.#fill(this.#words)
      this.#at = 0
    }
    return this.#words[this.#at++] as number
  }
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/** A 32-bit word as 8 hex digits (a table per byte: Number#toString(16) is a slow runtime call). */
export function hex8 (w: number): string {
  return (HEX[w >>> 24] as string) + (HEX[(w >>> 16) & 0xff] as string) + (HEX[(w >>> 8) & 0xff] as string) + (HEX[w & 0xff] as string)
}
