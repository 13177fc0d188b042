/**
 * Statistics for the placement bench's accuracy (bench/placement/run.ts): a confidence interval for a share,
 * and how many sampled requests were ties within the tiers' own run-to-run noise. Pure.
 */

/** Wilson score interval for k successes in n trials (z = 1.96: 95%), as [low, high] shares. */
export function wilson (k: number, n: number, z = 1.96): [number, number] {
  if (n <= 0) return [0, 1]
  const p = k / n
  const z2 = z * z
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n)
  const half = (z / (1 + z2 / n)) * Math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
  return [Math.max(0, centre - half), Math.min(1, centre + half)]
}

/** One sampled request: its input and each tier's measured time. */
export interface Sample { input: string; measured: Record<string, number> }

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** Robust standard deviation (1.4826 x the median absolute deviation); 0 for fewer than 2 values. */
export function robustSd (xs: readonly number[]): number {
  if (xs.length < 2) return 0
  const m = median(xs)
  return 1.4826 * median(xs.map((x) => Math.abs(x - m)))
}

/**
 * Which samples are ties within noise: the two tiers' times differ by less than the noise of that difference,
 * sqrt(sd_a^2 + sd_b^2), each sd the robust spread of that tier's times over the samples of the same input in
 * the same run (run-to-run noise). Two tiers only (the first two names in `tiers`).
 */
export function tiesWithinNoise (samples: readonly Sample[], tiers: readonly [string, string]): boolean[] {
  const [a, b] = tiers
  const sd = new Map<string, [number, number]>()
  for (const input of new Set(samples.map((s) => s.input))) {
    const xs = samples.filter((s) => s.input === input)
    sd.set(input, [robustSd(xs.map((s) => s.measured[a] as number)), robustSd(xs.map((s) => s.measured[b] as number))])
  }
  return samples.map((s) => {
    const [sa, sb] = sd.get(s.input) as [number, number]
    return Math.abs((s.measured[a] as number) - (s.measured[b] as number)) < Math.sqrt(sa * sa + sb * sb)
  })
}

/**
 * The best accuracy any rule that sees only the input could reach on these samples (in sample, so an upper
 * bound for it): per input, the count of its most often fastest tier.
 */
export function perInputCeiling (samples: readonly Sample[]): number {
  const wins = new Map<string, Map<string, number>>()
  for (const s of samples) {
    const names = Object.keys(s.measured)
    const best = names.reduce((x, y) => (s.measured[y] as number) < (s.measured[x] as number) ? y : x, names[0] as string)
    const m = wins.get(s.input) ?? new Map<string, number>()
    m.set(best, (m.get(best) ?? 0) + 1)
    wins.set(s.input, m)
  }
  let k = 0
  for (const m of wins.values()) k += Math.max(...m.values())
  return k
}

/** One sampled request run twice on every tier (ORACLE_REPEAT=1): the two repetitions' measured times. */
export interface RepeatedSample { first: Record<string, number>; second: Record<string, number> }

const fastestOf = (m: Record<string, number>): string => {
  const names = Object.keys(m)
  return names.reduce((x, y) => (m[y] as number) < (m[x] as number) ? y : x, names[0] as string)
}

/** How many samples' two repetitions agree on the fastest tier. */
export function selfAgreement (samples: readonly RepeatedSample[]): number {
  let k = 0
  for (const s of samples) if (fastestOf(s.first) === fastestOf(s.second)) k++
  return k
}

/**
 * The accuracy ceiling a self-agreement share `a` implies, for two tiers. Model: given everything a predictor
 * can know when it decides (the state), each repetition's fastest tier is an independent draw, the edge with
 * chance p. Then two repetitions agree with chance a = p^2 + (1-p)^2, and the best any predictor can do in
 * that state is max(p, 1-p) = (1 + sqrt(2a - 1)) / 2. Over states, by Jensen (sqrt is concave), the mean best
 * is at most (1 + sqrt(2 mean(a) - 1)) / 2 (returned as `upper`), and at least mean(a) (`lower`: max(p, 1-p) >=
 * p^2 + (1-p)^2). A share of 97% needs a >= 1 - 2 x 0.97 x 0.03 = 94.18%. Pure.
 */
export function ceilingFromAgreement (a: number): { lower: number; upper: number } {
  const x = Math.max(0, Math.min(1, a))
  return { lower: x, upper: (1 + Math.sqrt(Math.max(0, 2 * x - 1))) / 2 }
}

/** A repeated sample with its request class (the input), for totalCeiling. */
export interface ClassedRepeat extends RepeatedSample { input: string }

/** One estimate of totalCeiling: the ratio, and its bootstrap 95% percentile interval over samples. */
export interface RatioEstimate { ratio: number; low: number; high: number }

const fastestIndex = (m: Record<string, number>, tiers: readonly string[]): string => {
  let best = tiers[0] as string
  for (const n of tiers) if ((m[n] as number) < (m[best] as number)) best = n
  return best
}

/**
 * The noise ceiling of the total-latency target: how close to the realized oracle (each request's min over
 * tiers, of one realization) a predictor can come whose choice does not see that realization's own noise.
 * Each sample has two realizations (ORACLE_REPEAT=1); each is scored with a choice made without it, and the
 * ratio is (sum of the chosen tiers' times) / (sum of the per-realization minimum), both realizations pooled:
 * - `crossRepeat`: the choice is the other repetition's fastest tier (a predictor that knew the request's times
 *   from a run just before or after it: its state, plus that run's noise);
 * - `classOut`: the tier with the lowest mean time over the other samples of the same input (both their
 *   realizations; leave-sample-out; the sample's other realization when its input has no other sample): a
 *   predictor that knew each request class's expected time per tier, estimated from a finite sample (noisy, so
 *   a little worse than exact knowledge);
 * - `classIn`: the same with the sample itself in its class's mean (in sample: a little better than exact
 *   knowledge could do on this draw).
 * So the class-knowing predictor's achievable ratio is bracketed by classIn and classOut; any real predictor
 * that sees only the input and the state has at least the realization's own noise against it. The intervals:
 * percentile bootstrap over samples (`rounds` resamples, `random` injected), choices recomputed within each
 * resample (leaving out every copy of the sample). Pure.
 */
export function totalCeiling (samples: readonly ClassedRepeat[], random: () => number, rounds = 2000): { crossRepeat: RatioEstimate; classOut: RatioEstimate; classIn: RatioEstimate } {
  const n = samples.length
  const nan: RatioEstimate = { ratio: Number.NaN, low: Number.NaN, high: Number.NaN }
  if (n === 0) return { crossRepeat: nan, classOut: nan, classIn: nan }
  const tiers = Object.keys((samples[0] as ClassedRepeat).first)
  const classes = [...new Set(samples.map((s) => s.input))]
  const classOf = samples.map((s) => classes.indexOf(s.input))
  const minOf = (m: Record<string, number>): number => Math.min(...tiers.map((t) => m[t] as number))
  /** The three ratios over a multiset of samples: copies[i] = how many times sample i is in it. */
  const ratios = (copies: readonly number[]): [number, number, number] => {
    // Per class and tier: the sum of both realizations' times over the multiset, and the count of realizations.
    const sums = classes.map(() => Object.fromEntries(tiers.map((t) => [t, 0])) as Record<string, number>)
    const counts = classes.map(() => 0)
    for (let i = 0; i < n; i++) {
      const c = copies[i] as number
      if (c === 0) continue
      const s = samples[i] as ClassedRepeat
      const k = classOf[i] as number
      for (const t of tiers) (sums[k] as Record<string, number>)[t] = ((sums[k] as Record<string, number>)[t] as number) + c * ((s.first[t] as number) + (s.second[t] as number))
      counts[k] = (counts[k] as number) + 2 * c
    }
    let oracle = 0
    let cross = 0
    let out = 0
    let inS = 0
    for (let i = 0; i < n; i++) {
      const c = copies[i] as number
      if (c === 0) continue
      const s = samples[i] as ClassedRepeat
      const k = classOf[i] as number
      const sum = sums[k] as Record<string, number>
      const rest = (counts[k] as number) - 2 * c
      const outMean: Record<string, number> = {}
      const inMean: Record<string, number> = {}
      for (const t of tiers) {
        const own = c * ((s.first[t] as number) + (s.second[t] as number))
        inMean[t] = (sum[t] as number) / (counts[k] as number)
        outMean[t] = rest > 0 ? ((sum[t] as number) - own) / rest : Number.NaN
      }
      const inChoice = fastestIndex(inMean, tiers)
      for (const [real, other] of [[s.first, s.second], [s.second, s.first]] as const) {
        const outChoice = rest > 0 ? fastestIndex(outMean, tiers) : fastestIndex(other, tiers)
        oracle += c * minOf(real)
        cross += c * (real[fastestIndex(other, tiers)] as number)
        out += c * (real[outChoice] as number)
        inS += c * (real[inChoice] as number)
      }
    }
    return [cross / oracle, out / oracle, inS / oracle]
  }
  const point = ratios(samples.map(() => 1))
  const boot: [number[], number[], number[]] = [[], [], []]
  for (let r = 0; r < rounds; r++) {
    const copies = samples.map(() => 0)
    for (let j = 0; j < n; j++) { const i = Math.min(n - 1, Math.floor(random() * n)); copies[i] = (copies[i] as number) + 1 }
    const x = ratios(copies)
    for (let m = 0; m < 3; m++) (boot[m] as number[]).push(x[m] as number)
  }
  const est = (m: number): RatioEstimate => {
    const xs = (boot[m] as number[]).filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
    const q = (p: number): number => xs.length === 0 ? Number.NaN : xs[Math.min(xs.length - 1, Math.max(0, Math.floor(p * xs.length)))] as number
    return { ratio: point[m] as number, low: q(0.025), high: q(0.975) }
  }
  return { crossRepeat: est(0), classOut: est(1), classIn: est(2) }
}
