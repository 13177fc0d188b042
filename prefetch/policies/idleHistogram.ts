/**
 * The range-limited histogram of idle times of Shahrad et al., ATC'20, section 4.2: one bin per `binMin` minutes up
 * to `rangeMin`, idle times beyond the range counted as out-of-bounds (OOB). The coefficient of variation of the bin
 * counts is kept incrementally (sum and sum of squares), so `cv` costs O(1): a histogram with a few tall bins has a
 * high CV (a clear pattern), a flat one a low CV (not representative).
 */
export class IdleHistogram {
  readonly bins: Uint32Array
  readonly binMin: number
  /** Idle times that fell inside the range. */
  inRange = 0
  /** Idle times at or beyond the range. */
  outOfBounds = 0
  #sumSq = 0

  constructor (rangeMin: number, binMin: number) {
    this.binMin = binMin
    this.bins = new Uint32Array(Math.max(1, Math.round(rangeMin / binMin)))
  }

  get rangeMin (): number { return this.bins.length * this.binMin }
  get total (): number { return this.inRange + this.outOfBounds }

  add (idleMin: number): void {
    const bin = Math.floor(idleMin / this.binMin)
    if (bin >= this.bins.length || bin < 0) { this.outOfBounds++; return }
    const c = this.bins[bin] ?? 0
    this.#sumSq += 2 * c + 1 // (c+1)^2 - c^2
    this.bins[bin] = c + 1
    this.inRange++
  }

  /** CV of the bin counts (sample standard deviation over all bins / mean); 0 when empty. */
  get cv (): number {
    const n = this.bins.length
    if (this.inRange === 0 || n < 2) return 0
    const mean = this.inRange / n
    const variance = Math.max(0, (this.#sumSq - n * mean * mean) / (n - 1))
    return Math.sqrt(variance) / mean
  }

  /** The index of the bin holding the p-th quantile (0 < p <= 1) of the in-range idle times; -1 when empty. */
  quantileBin (p: number): number {
    if (this.inRange === 0) return -1
    const need = p * this.inRange
    let acc = 0
    for (let i = 0; i < this.bins.length; i++) {
      acc += this.bins[i] ?? 0
      if (acc >= need && acc > 0) return i
    }
    return this.bins.length - 1
  }

  /** Bytes of state: the bins and four numbers. */
  get bytes (): number { return this.bins.byteLength + 4 * 8 }
}
