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

/** Each byte's two hex digits as character codes, high then low. */
const HEX_CODES = Uint8Array.from({ length: 512 }, (_, i) => '0123456789abcdef'.charCodeAt(i & 1 ? (i >> 1) & 0xf : (i >> 5) & 0xf))
const TP = Buffer.from('00-00000000000000000000000000000000-0000000000000000-00', 'latin1')

function put8 (at: number, w: number): void {
  let b = (w >>> 24) * 2
  TP[at] = HEX_CODES[b] as number; TP[at + 1] = HEX_CODES[b + 1] as number
  b = ((w >>> 16) & 0xff) * 2
  TP[at + 2] = HEX_CODES[b] as number; TP[at + 3] = HEX_CODES[b + 1] as number
  b = ((w >>> 8) & 0xff) * 2
  TP[at + 4] = HEX_CODES[b] as number; TP[at + 5] = HEX_CODES[b + 1] as number
  b = (w & 0xff) * 2
  TP[at + 6] = HEX_CODES[b] as number; TP[at + 7] = HEX_CODES[b + 1] as number
}

/**
 * A W3C traceparent (version 00) of a trace id and a span id as 32-bit words: its 55 characters written as
 * bytes and read as one string (one allocation, where joining hex pieces makes a score of them).
 */
export function traceparentOf (t0: number, t1: number, t2: number, t3: number, s0: number, s1: number, sampled: boolean): string {
  put8(3, t0); put8(11, t1); put8(19, t2); put8(27, t3)
  put8(36, s0); put8(44, s1)
  TP[54] = sampled ? 0x31 : 0x30
  return TP.toString('latin1', 0, 55)
}
