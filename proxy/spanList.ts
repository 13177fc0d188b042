/**
 * A reusable list of spans [start, end) over one head, for the lines a parser marks to drop. It lives in one
 * Int32Array that grows only when a head has more spans than it ever had: a plain array emptied with
 * `length = 0` gives its store back in V8, and the next push allocates again (~60 ns a head).
 */
export class SpanList {
  #a = new Int32Array(16)
  #n = 0

  /** How many spans. */
  get size (): number { return this.#n >> 1 }

  clear (): void { this.#n = 0 }

  start (i: number): number { return this.#a[2 * i] as number }
  end (i: number): number { return this.#a[2 * i + 1] as number }

  push (start: number, end: number): void {
    if (this.#n + 2 > this.#a.length) {
      const bigger = new Int32Array(this.#a.length * 2)
      bigger.set(this.#a)
      this.#a = bigger
    }
    this.#a[this.#n++] = start
    this.#a[this.#n++] = end
  }

  /**
   * Adds each span of `spans` (flat: start, end, ...) whose start is not in the list yet. Linear in both: a
   * hostile head can hold tens of thousands of lines to drop (a 1 MiB head of 25k named fields took 1.9 s of
   * the event loop with a pairwise check).
   */
  addOnce (spans: readonly number[]): void {
    if (spans.length === 0) return
    const seen = new Set<number>()
    for (let k = 0; k < this.#n; k += 2) seen.add(this.#a[k] as number)
    for (let i = 0; i < spans.length; i += 2) {
      const s = spans[i] as number
      if (seen.has(s)) continue
      seen.add(s)
      this.push(s, spans[i + 1] as number)
    }
  }

  /** The spans as a flat array (start, end, ...), in list order. */
  toArray (): number[] { return Array.from(this.#a.subarray(0, this.#n)) }

  /** Sorts the spans by start: insertion sort for the handful a head has, a native sort for a hostile many. */
  sort (): void {
    const a = this.#a
    if (this.#n > 64) {
      const order = Array.from({ length: this.#n >> 1 }, (_, i) => i).sort((x, y) => (a[2 * x] as number) - (a[2 * y] as number))
      const sorted = new Int32Array(a.length)
      order.forEach((from, to) => { sorted[2 * to] = a[2 * from] as number; sorted[2 * to + 1] = a[2 * from + 1] as number })
      this.#a = sorted
      return
    }
    for (let i = 2; i < this.#n; i += 2) {
      const s = a[i] as number
      const e = a[i + 1] as number
      let j = i - 2
      while (j >= 0 && (a[j] as number) > s) { a[j + 2] = a[j] as number; a[j + 3] = a[j + 1] as number; j -= 2 }
      a[j + 2] = s
      a[j + 3] = e
    }
  }
}
