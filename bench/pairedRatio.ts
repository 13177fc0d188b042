/**
 * Statistics for the paired benchmarks (bench/tracing, bench/proxy): one ratio per round (a mode against a
 * reference measured in the same round, so that the machine's load, which drifts from round to round, cancels),
 * and how sure the median ratio is:
 * a distribution-free sign-test interval (order statistics of the ratios), a percentile bootstrap of the
 * median, and the one-sided sign test of "the median ratio is at least `limit`". Pure; randomness injected.
 */

import { seededRandom } from '../core/seededRandom.js'

/** The median (the mean of the two middle values for an even count); NaN for none. */
export function median (xs: readonly number[]): number {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

/** P(B <= k) for B ~ Binomial(n, 1/2). */
export function binomialHalfCdf (k: number, n: number): number {
  if (k < 0) return 0
  if (k >= n) return 1
  // Summed in logs: n is a few hundred at most here, but 2^-n underflows past 1074.
  let logC = 0
  let sum = 0
  for (let i = 0; i <= k; i++) {
    if (i > 0) logC += Math.log((n - i + 1) / i)
    sum += Math.exp(logC - n * Math.LN2)
  }
  return Math.min(1, sum)
}

/**
 * The sign-test confidence interval for the median of `xs`: [x(k), x(n+1-k)] of the sorted values, k the
 * largest rank with 2 P(B <= k-1) <= 1 - level (B ~ Binomial(n, 1/2)); its exact coverage, 1 - 2 P(B <= k-1),
 * is at least `level`. Undefined when n is too small for any such interval (fewer than 6 values at 95%).
 */
export function signTestInterval (xs: readonly number[], level = 0.95): { low: number; high: number; coverage: number } | undefined {
  const n = xs.length
  const s = [...xs].sort((a, b) => a - b)
  let k = 0
  while (k + 1 <= n / 2 && 2 * binomialHalfCdf(k, n) <= 1 - level) k++
  if (k === 0) return undefined
  return { low: s[k - 1] as number, high: s[n - k] as number, coverage: 1 - 2 * binomialHalfCdf(k - 1, n) }
}

/**
 * The one-sided sign test of H0 "the median is at least `limit`" against "below it": the chance, under H0, of
 * as many values below `limit` as `xs` has (ties at `limit` count against). Small: the median is below `limit`.
 */
export function signTestBelow (xs: readonly number[], limit: number): { below: number; n: number; p: number } {
  const below = xs.filter((x) => x < limit).length
  const n = xs.length
  return { below, n, p: 1 - binomialHalfCdf(below - 1, n) }
}

/** The percentile bootstrap interval of the median of `xs` (`resamples` resamples with replacement). */
export function bootstrapMedianInterval (xs: readonly number[], random: () => number, resamples = 10_000, level = 0.95): { low: number; high: number } {
  const n = xs.length
  if (n === 0) return { low: NaN, high: NaN }
  const meds = new Float64Array(resamples)
  const r = new Array<number>(n)
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) r[i] = xs[Math.floor(random() * n)] as number
    meds[b] = median(r)
  }
  meds.sort()
  const tail = (1 - level) / 2
  return { low: meds[Math.floor(tail * (resamples - 1))] as number, high: meds[Math.ceil((1 - tail) * (resamples - 1))] as number }
}

/** Round by round ratios a[r] / b[r] (the rounds both have). */
export function pairedRatios (a: readonly number[], b: readonly number[]): number[] {
  const n = Math.min(a.length, b.length)
  const out: number[] = []
  for (let r = 0; r < n; r++) out.push((a[r] as number) / (b[r] as number))
  return out
}

/** What the bench reports for one mode against off. */
export interface RatioSummary {
  n: number
  median: number
  sign: { low: number; high: number; coverage: number } | undefined
  bootstrap: { low: number; high: number }
  /** The one-sided sign test of "median >= limit". */
  belowLimit: { below: number; n: number; p: number }
}

export function summariseRatios (ratios: readonly number[], limit: number, seed = 1): RatioSummary {
  return {
    n: ratios.length,
    median: median(ratios),
    sign: signTestInterval(ratios),
    bootstrap: bootstrapMedianInterval(ratios, seededRandom(seed)),
    belowLimit: signTestBelow(ratios, limit)
  }
}
