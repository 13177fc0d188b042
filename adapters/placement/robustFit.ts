/** Points within this share of a size are "near" it (predictNear, countNear, and which point leaves a full window). */
const NEAR = 0.2

/**
 * A robust line y = a + b x over the last `window` points (Theil-Sen: the median of pairwise slopes, then the
 * median intercept), as STOIC fits processing time against input size: one outlier (a GC pause, a noisy
 * neighbour) moves it little, unlike least squares. The fit is refreshed on `add`, so `predict` is two flops.
 */
export class RobustFit {
  readonly #xs: number[] = []
  readonly #ys: number[] = []
  readonly #window: number
  readonly #scratch: number[]
  readonly #ages: number[] = []
  /** When each point was added (the caller's clock, ms); NaN when not given. */
  readonly #times: number[] = []
  readonly #scratch2: number[]
  #seq = 0
  #a = 0
  #b = 0

  constructor (window = 24) {
    if (!(window >= 2)) throw new RangeError(`window must be >= 2, got ${window}`)
    this.#window = window
    this.#scratch = new Array<number>(window).fill(0)
    this.#scratch2 = new Array<number>(window).fill(0)
  }

  get count (): number { return this.#xs.length }
  get intercept (): number { return this.#a }
  get slope (): number { return this.#b }

  /**
   * Adds a point; when the window is full it replaces the oldest point whose size still has 3 or more points
   * near it (counting the new one), else the oldest: a size the tier seldom gets keeps its few runs instead of
   * being pushed out by the common ones (placement sends each size where it runs fastest, so a tier's window
   * fills with the sizes it wins), while every size's runs still renew oldest first.
   */
  add (x: number, y: number, atMs = Number.NaN): void {
    if (!Number.isFinite(x) || !Number.isFinite(y)) return
    const seq = this.#seq++
    if (this.#xs.length < this.#window) {
      this.#xs.push(x)
      this.#ys.push(y)
      this.#ages.push(seq)
      this.#times.push(atMs)
    } else {
      const victim = this.#victim(x)
      this.#xs[victim] = x
      this.#ys[victim] = y
      this.#ages[victim] = seq
      this.#times[victim] = atMs
    }
    this.#refit()
  }

  #victim (incoming: number): number {
    const xs = this.#xs
    let oldest = 0
    let crowded = -1
    for (let i = 0; i < xs.length; i++) {
      if ((this.#ages[i] as number) < (this.#ages[oldest] as number)) oldest = i
      if (crowded !== -1 && (this.#ages[i] as number) > (this.#ages[crowded] as number)) continue
      const xi = xs[i] as number
      let near = Math.abs(incoming - xi) <= NEAR * Math.max(incoming, xi) ? 1 : 0
      for (let j = 0; j < xs.length && near < 3; j++) {
        if (j !== i && Math.abs((xs[j] as number) - xi) <= NEAR * Math.max(xs[j] as number, xi)) near++
      }
      if (near >= 3) crowded = i
    }
    return crowded === -1 ? oldest : crowded
  }

  /**
   * The median y of the points within `rel` of x (|x_i - x| <= rel * max(x, x_i)) when there are at least
   * `min` of them, else the line at x. Inputs often come in a few sizes (camera resolutions, chunk lengths) and
   * the work need not be linear in them (text-detect scales every frame down to 960 px, so big frames cost
   * alike): near points say more than the line there. O(window), no allocation.
   */
  predictNear (x: number, rel = NEAR, min = 3): number {
    const xs = this.#xs
    const near = this.#scratch
    let k = 0
    for (let i = 0; i < xs.length; i++) {
      const xi = xs[i] as number
      if (Math.abs(xi - x) <= rel * Math.max(x, xi)) {
        // insertion sort into near[0..k]
        const y = this.#ys[i] as number
        let j = k++
        while (j > 0 && (near[j - 1] as number) > y) { near[j] = near[j - 1] as number; j-- }
        near[j] = y
      }
    }
    if (k < min) return this.predict(x)
    const m = k >> 1
    const y = k % 2 === 1 ? near[m] as number : ((near[m - 1] as number) + (near[m] as number)) / 2
    return y > 0 ? y : 0
  }

  /**
   * Mean residual time of a run near x that has lasted `elapsed`: over the near points (as predictNear) longer
   * than `elapsed`, the mean of y - elapsed; undefined when fewer than `min` of them are (the run outlasts what
   * the window knows). O(window), no allocation.
   */
  residualNear (x: number, elapsed: number, rel = NEAR, min = 2): number | undefined {
    const xs = this.#xs
    let k = 0
    let sum = 0
    for (let i = 0; i < xs.length; i++) {
      const xi = xs[i] as number
      const y = this.#ys[i] as number
      if (Math.abs(xi - x) <= rel * Math.max(x, xi) && y > elapsed) { k++; sum += y - elapsed }
    }
    return k < min ? undefined : sum / k
  }

  /** The y of the points within `rel` of x (as predictNear picks them), in window order. */
  nearValues (x: number, rel = NEAR): number[] {
    const out: number[] = []
    for (let i = 0; i < this.#xs.length; i++) {
      const xi = this.#xs[i] as number
      if (Math.abs(xi - x) <= rel * Math.max(x, xi)) out.push(this.#ys[i] as number)
    }
    return out
  }

  /**
   * Of the points within `rel` of x (as predictNear picks them): how many, when the newest of them was added
   * (`add`'s atMs; -Infinity when none has a time), and their robust spread (1.4826 x the median absolute
   * deviation; 0 for fewer than 2). O(window^2) at worst (insertion sorts of at most `window` values), no allocation.
   */
  nearStats (x: number, rel = NEAR): { count: number; newestMs: number; spread: number } {
    const xs = this.#xs
    const near = this.#scratch
    let k = 0
    let newestMs = Number.NEGATIVE_INFINITY
    for (let i = 0; i < xs.length; i++) {
      const xi = xs[i] as number
      if (Math.abs(xi - x) <= rel * Math.max(x, xi)) {
        const ti = this.#times[i] as number
        if (ti > newestMs) newestMs = ti
        const y = this.#ys[i] as number
        let j = k++
        while (j > 0 && (near[j - 1] as number) > y) { near[j] = near[j - 1] as number; j-- }
        near[j] = y
      }
    }
    if (k < 2) return { count: k, newestMs, spread: 0 }
    const mid = (a: number[]): number => (k % 2 === 1 ? a[k >> 1] as number : ((a[(k >> 1) - 1] as number) + (a[k >> 1] as number)) / 2)
    const m = mid(near)
    const dev = this.#scratch2
    for (let i = 0; i < k; i++) {
      const d = Math.abs((near[i] as number) - m)
      let j = i
      while (j > 0 && (dev[j - 1] as number) > d) { dev[j] = dev[j - 1] as number; j-- }
      dev[j] = d
    }
    return { count: k, newestMs, spread: 1.4826 * mid(dev) }
  }

  /** How many points lie within `rel` of x (as predictNear counts them). */
  countNear (x: number, rel = NEAR): number {
    let k = 0
    for (const xi of this.#xs) if (Math.abs(xi - x) <= rel * Math.max(x, xi)) k++
    return k
  }

  /** The fitted y at x; never below 0 (a time). With no point yet, 0. */
  predict (x: number): number {
    const y = this.#a + this.#b * x
    return y > 0 ? y : 0
  }

  #refit (): void {
    const xs = this.#xs
    const ys = this.#ys
    const n = xs.length
    const slopes: number[] = []
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const dx = (xs[j] as number) - (xs[i] as number)
        // Points at (nearly) the same x say nothing about the slope.
        if (Math.abs(dx) > 1e-9 * Math.max(1, Math.abs(xs[i] as number))) slopes.push(((ys[j] as number) - (ys[i] as number)) / dx)
      }
    }
    // All at one size: the slope is unknown, taken as 0; the level is the median.
    const b = slopes.length === 0 ? 0 : median(slopes)
    this.#b = b > 0 ? b : 0 // time does not fall as input grows: a negative slope is noise
    const intercepts = xs.map((x, i) => (ys[i] as number) - this.#b * x)
    this.#a = median(intercepts)
  }
}

/** The median of a non-empty list (sorts a copy). */
export function median (values: readonly number[]): number {
  const s = [...values].sort((p, q) => p - q)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
