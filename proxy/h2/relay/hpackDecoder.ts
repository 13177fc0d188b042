import { huffmanDecode, HuffmanError } from './huffman.js'
import { STATIC_TABLE } from './hpackStatic.js'

/** A header block that cannot be decoded: a connection error of type COMPRESSION_ERROR (RFC 9113 §4.3). */
export class HpackError extends Error { override name = 'HpackError' }

const ENTRY_OVERHEAD = 32

/**
 * An HPACK decoder (RFC 7541): static and dynamic table, Huffman strings, dynamic table size updates (only
 * at the start of a block, never above the size we allowed). One per connection direction.
 *
 * decode() returns the header list as a flat array [name0, value0, name1, value1, ...] (strings hold one
 * char per octet, as latin1). Fields past `maxListBytes` (RFC 9113 §6.5.2 size: name + value + 32) are decoded,
 * so the table stays in step with the peer's encoder, but not kept; `tooLarge` tells the caller, which answers
 * 431 as Go's server does.
 */
export class HpackDecoder {
  /** Newest entry last. */
  /** Entries from #head on (evicted ones before it are dropped in bulk, so an eviction costs O(1)). */
  #names: string[] = []
  #values: string[] = []
  #head = 0
  #size = 0
  /** The SETTINGS_HEADER_TABLE_SIZE we advertised: the most the peer may set the table to. */
  #maxAllowed: number
  /** The size the peer set with its last size update. */
  #max: number
  maxListBytes: number
  /** Set by decode(): the list was over maxListBytes. */
  tooLarge = false
  /** Set by decode(): the RFC 9113 §6.5.2 size of the whole list. */
  listBytes = 0

  constructor (maxTableSize = 4096, maxListBytes = Infinity) {
    this.#maxAllowed = maxTableSize
    this.#max = maxTableSize
    this.maxListBytes = maxListBytes
  }

  get tableSize (): number { return this.#size }
  get tableEntries (): number { return this.#names.length - this.#head }

  #evict (limit: number): void {
    const names = this.#names
    const values = this.#values
    let h = this.#head
    while (this.#size > limit && h < names.length) {
      this.#size -= (names[h] as string).length + (values[h] as string).length + ENTRY_OVERHEAD
      names[h] = ''
      values[h] = ''
      h++
    }
    if (h > 64 && h * 2 > names.length) { names.splice(0, h); values.splice(0, h); h = 0 }
    this.#head = h
  }

  #insert (name: string, value: string): void {
    const sz = name.length + value.length + ENTRY_OVERHEAD
    if (sz > this.#max) { this.#evict(0); return }
    this.#evict(this.#max - sz)
    this.#names.push(name)
    this.#values.push(value)
    this.#size += sz
  }

  #name (index: number): string {
    if (index <= 0) throw new HpackError('index 0')
    if (index < STATIC_TABLE.length) return (STATIC_TABLE[index] as readonly [string, string])[0]
    const d = this.#names.length - (index - STATIC_TABLE.length) - 1
    if (d < this.#head) throw new HpackError(`index ${index} out of range`)
    return this.#names[d] as string
  }

  #value (index: number): string {
    if (index < STATIC_TABLE.length) return (STATIC_TABLE[index] as readonly [string, string])[1]
    return this.#values[this.#names.length - (index - STATIC_TABLE.length) - 1] as string
  }

  decode (b: Buffer, start = 0, end = b.length): string[] {
    const out: string[] = []
    let listBytes = 0
    let tooLarge = false
    let p = start
    let fieldsSeen = false
    // Integer decoding (RFC 7541 §5.1), inlined for the prefix sizes used below.
    const int = (prefix: number): number => {
      const mask = (1 << prefix) - 1
      let v = (b[p++] as number) & mask
      if (v < mask) return v
      let m = 0
      for (;;) {
        if (p >= end) throw new HpackError('truncated integer')
        const x = b[p++] as number
        v += (x & 0x7f) * 2 ** m
        m += 7
        if ((x & 0x80) === 0) break
        if (m > 28) throw new HpackError('integer overflow')
      }
      return v
    }
    const str = (): string => {
      if (p >= end) throw new HpackError('truncated string')
      const huff = ((b[p] as number) & 0x80) !== 0
      const len = int(7)
      if (p + len > end) throw new HpackError('truncated string')
      const s0 = p
      p += len
      if (!huff) return b.toString('latin1', s0, p)
      try {
        return huffmanDecode(b, s0, p)
      } catch (err) {
        if (err instanceof HuffmanError) throw new HpackError(err.message)
        throw err
      }
    }
    while (p < end) {
      const c = b[p] as number
      let name: string
      let value: string
      if ((c & 0x80) !== 0) {
        const i = int(7)
        name = this.#name(i)
        value = this.#value(i)
      } else if ((c & 0xc0) === 0x40) {
        const i = int(6)
        name = i === 0 ? str() : this.#name(i)
        value = str()
        this.#insert(name, value)
      } else if ((c & 0xe0) === 0x20) {
        // Dynamic table size update: only before the first field of a block (RFC 7541 §4.2).
        if (fieldsSeen) throw new HpackError('table size update after a field')
        const sz = int(5)
        if (sz > this.#maxAllowed) throw new HpackError(`table size ${sz} over ${this.#maxAllowed}`)
        this.#max = sz
        this.#evict(sz)
        continue
      } else {
        // Literal without indexing (0000) or never indexed (0001).
        const i = int(4)
        name = i === 0 ? str() : this.#name(i)
        value = str()
      }
      fieldsSeen = true
      listBytes += name.length + value.length + ENTRY_OVERHEAD
      if (listBytes > this.maxListBytes) tooLarge = true
      if (!tooLarge) out.push(name, value)
    }
    this.listBytes = listBytes
    this.tooLarge = tooLarge
    return out
  }
}
