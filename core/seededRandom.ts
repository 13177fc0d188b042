/**
 * mulberry32: a small seeded generator of uniform draws in [0, 1), so that a spread trace, a bench's arrivals or
 * a test's randomness repeat run to run. Not for anything that must be unpredictable.
 */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
