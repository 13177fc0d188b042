import { FunctionInputError } from '../sdk/functionInputError.js'

/** 16-bit signed little-endian mono PCM to floats in [-1, 1). An odd number of bytes is not whole samples. */
export function decodePcmS16le (bytes: Buffer): Float32Array {
  if (bytes.length % 2 !== 0) throw new FunctionInputError(`PCM s16le needs whole 2-byte samples, got ${bytes.length} bytes`)
  const out = new Float32Array(bytes.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(i * 2) / 32768
  return out
}
