import { HUFFMAN_CODES, HUFFMAN_LENGTHS } from './huffmanTable.js'

const EOS = 256
/**
 * The Huffman code as a binary tree in one Int32Array: node n's children are at 2n and 2n+1; a child value
 * > 0 is the next node, < 0 is a leaf holding -(symbol + 1), 0 is absent. Built once at load.
 */
const tree = new Int32Array(2 * 600)
let nodes = 1
function add (sym: number, code: number, len: number): void {
  let n = 0
  for (let i = len - 1; i >= 0; i--) {
    const bit = (code >>> i) & 1
    const at = 2 * n + bit
    if (i === 0) { tree[at] = -(sym + 1); return }
    let next = tree[at] as number
    if (next === 0) { next = nodes++; tree[at] = next }
    n = next
  }
}
for (let s = 0; s < 256; s++) add(s, HUFFMAN_CODES[s] as number, HUFFMAN_LENGTHS[s] as number)
add(EOS, 0x3fffffff, 30)

/** Thrown for an invalid Huffman string (EOS inside, padding over 7 bits or not all ones): a COMPRESSION_ERROR. */
export class HuffmanError extends Error { override name = 'HuffmanError' }

/** Decodes `src[start, end)` (RFC 7541 §5.2) into a latin1 string (one char per octet). */
export function huffmanDecode (src: Uint8Array, start: number, end: number): string {
  const out: number[] = []
  let n = 0
  // Bits read since the last symbol, and whether they were all ones (valid padding is a prefix of EOS).
  let pad = 0
  let ones = true
  for (let i = start; i < end; i++) {
    const b = src[i] as number
    for (let k = 7; k >= 0; k--) {
      const bit = (b >>> k) & 1
      const v = tree[2 * n + bit] as number
      pad++
      if (bit === 0) ones = false
      if (v < 0) {
        const sym = -v - 1
        if (sym === EOS) throw new HuffmanError('EOS in a Huffman string')
        out.push(sym)
        n = 0
        pad = 0
        ones = true
      } else {
        n = v
      }
    }
  }
  if (pad > 7 || !ones) throw new HuffmanError('bad Huffman padding')
  // String.fromCharCode on chunks: no call-stack limit for long values.
  let s = ''
  for (let i = 0; i < out.length; i += 4096) s += String.fromCharCode.apply(null, out.slice(i, i + 4096))
  return s
}

/** Encodes a latin1 string with the Huffman code (for tests and callers that want the smaller form). */
export function huffmanEncode (s: string): Buffer {
  const bytes: number[] = []
  let acc = 0
  let bits = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) & 0xff
    const code = HUFFMAN_CODES[c] as number
    let len = HUFFMAN_LENGTHS[c] as number
    while (len > 0) {
      const take = Math.min(len, 8 - bits)
      const part = (code >>> (len - take)) & ((1 << take) - 1)
      acc = (acc << take) | part
      bits += take
      len -= take
      if (bits === 8) { bytes.push(acc); acc = 0; bits = 0 }
    }
  }
  if (bits > 0) bytes.push((acc << (8 - bits)) | ((1 << (8 - bits)) - 1))
  return Buffer.from(bytes)
}
