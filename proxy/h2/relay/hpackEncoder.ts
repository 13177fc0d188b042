import { STATIC_NAME_INDEX, STATIC_PAIR_INDEX } from './hpackStatic.js'

/**
 * Literals go out as "never indexed" (RFC 7541 §6.2.3): an intermediary must pass a field that came that way
 * on in the same representation, and as this encoder indexes nothing, using it for every literal keeps that
 * rule without tracking which fields came so. Decoders treat it as a literal without indexing.
 */
const NEVER_INDEXED = 0x10

/**
 * An HPACK encoder (RFC 7541) that never touches the peer's dynamic table: a field in the static table is
 * sent as its index, any other as a literal, never indexed (the name by static index where it has one).
 * Stateless, so header blocks can be encoded for any stream in any order and no table size update is ever
 * needed; the cost is a few bytes more per field than incremental indexing would send.
 *
 * encode() writes into `out` from `at` and returns the end offset, or -1 when `out` is too small.
 */
export function encodeHeaders (fields: readonly string[], out: Buffer, at: number): number {
  let p = at
  const cap = out.length
  const int = (first: number, prefix: number, v: number): boolean => {
    const mask = (1 << prefix) - 1
    if (v < mask) { if (p >= cap) return false; out[p++] = first | v; return true }
    if (p >= cap) return false
    out[p++] = first | mask
    v -= mask
    while (v >= 128) { if (p >= cap) return false; out[p++] = (v & 0x7f) | 0x80; v = Math.floor(v / 128) }
    if (p >= cap) return false
    out[p++] = v
    return true
  }
  const str = (s: string): boolean => {
    if (!int(0, 7, s.length)) return false
    const n = s.length
    if (p + n > cap) return false
    // Short strings by hand: cheaper than a call into Buffer's C++ for the few octets most fields have.
    if (n < 48) { for (let i = 0; i < n; i++) out[p + i] = s.charCodeAt(i) } else out.write(s, p, 'latin1')
    p += n
    return true
  }
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i] as string
    const value = fields[i + 1] as string
    const full = STATIC_PAIR_INDEX.get(name)?.get(value)
    if (full !== undefined) { if (!int(0x80, 7, full)) return -1; continue }
    const ni = STATIC_NAME_INDEX.get(name)
    if (ni !== undefined) {
      if (!int(NEVER_INDEXED, 4, ni)) return -1
    } else {
      if (p >= cap) return -1
      out[p++] = NEVER_INDEXED
      if (!str(name)) return -1
    }
    if (!str(value)) return -1
  }
  return p
}
