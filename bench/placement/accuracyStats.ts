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
