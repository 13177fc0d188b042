import { createHash } from 'node:crypto'

/**
 * An id derived from others, the same every time it is computed from the same parts: a reply's id from its
 * input's, a dead letter's from its message's, a batch's from its events'. Shaped as a UUID (version nibble 8,
 * "custom", RFC 9562 section 5.8), like stableEventId.
 */
export function derivedId (...parts: readonly string[]): string {
  const h = createHash('sha256')
  for (const p of parts) h.update(p).update('\0')
  const b = h.digest()
  b[6] = ((b[6] as number) & 0x0f) | 0x80
  b[8] = ((b[8] as number) & 0x3f) | 0x80
  const hex = b.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`
}
