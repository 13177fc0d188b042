export interface ShareDemand {
  /** Capacity units the function wants (instances at full CPU). */
  want: number
  /** functions.<name>.weight: 1..256, default 8 (LaSS's range and default). */
  weight: number
  /** Units it is owed before anything is shared: its guarantee's instances (0 without one). */
  reserved: number
}

/**
 * Weighted max-min fairness by water-filling (LaSS's calculateQuota, EdgeBalancer.scala, without its per-user
 * level): reserved units first, then the rest rises like water, each function's level in proportion to its weight,
 * until a function has what it wants (it leaves the pool, and its unused share goes to the others) or the capacity
 * is gone. Fractional units are kept: a function given 2.5 units runs 3 instances deflated to 5/6 of a CPU or
 * 2 at full CPU (capacityPlanner.ts decides). O(n log n).
 */
export function waterFill (capacity: number, demands: readonly ShareDemand[]): number[] {
  const alloc = demands.map((d) => Math.min(Math.max(0, d.want), Math.max(0, d.reserved)))
  let reservedSum = 0
  for (const a of alloc) reservedSum += a
  if (reservedSum > capacity) {
    // Guarantees are checked at start-up to fit; if the box shrank, share what there is in their proportion.
    const k = capacity / reservedSum
    return alloc.map((a) => a * k)
  }
  let left = capacity - reservedSum
  const active = demands.map((_, i) => i).filter((i) => (demands[i]?.want ?? 0) > (alloc[i] ?? 0))
  active.sort((a, b) => need(a) / weight(a) - need(b) / weight(b))
  let sumW = 0
  for (const i of active) sumW += weight(i)
  for (let k = 0; k < active.length; k++) {
    const i = active[k] as number
    const level = left / sumW
    const n = need(i)
    if (n <= level * weight(i)) {
      alloc[i] = (alloc[i] ?? 0) + n
      left -= n
      sumW -= weight(i)
    } else {
      for (let j = k; j < active.length; j++) {
        const f = active[j] as number
        alloc[f] = (alloc[f] ?? 0) + level * weight(f)
      }
      break
    }
  }
  return alloc

  function need (i: number): number { return Math.max(0, (demands[i]?.want ?? 0) - (alloc[i] ?? 0)) }
  function weight (i: number): number { return Math.max(1e-9, demands[i]?.weight ?? 8) }
}

/** Jain's fairness index of x: (sum x)^2 / (n sum x^2); 1 when all are equal, 1/n when one has everything. */
export function jainIndex (x: readonly number[]): number {
  if (x.length === 0) return 1
  let s = 0
  let s2 = 0
  for (const v of x) { s += v; s2 += v * v }
  return s2 === 0 ? 1 : (s * s) / (x.length * s2)
}

/**
 * Rounds a water-filled allocation down to whole steps of `step` units (an instance deflated to the lowest share),
 * then hands the steps left over, one each, to the functions with the largest remainders, never past their want.
 * Without it, a box smaller than (functions x step) would give every function less than one instance and serve
 * nobody. Ties are broken from `rotate` on (the allocator advances it on each share), so among equal functions the
 * ones left without an instance change from one share to the next instead of starving.
 */
export function quantize (alloc: readonly number[], demands: readonly ShareDemand[], capacity: number, step: number, rotate = 0): number[] {
  const n = alloc.length
  const out = alloc.map((a) => Math.floor(a / step + 1e-9) * step)
  let left = capacity
  for (const a of out) left -= a
  const order = alloc.map((a, i) => ({ i, rem: a - (out[i] ?? 0), key: (i - rotate % Math.max(1, n) + n) % Math.max(1, n) }))
    .filter((x) => (demands[x.i]?.want ?? 0) > (out[x.i] ?? 0) + 1e-9)
    .sort((x, y) => (y.rem - x.rem) || (x.key - y.key))
  for (const { i } of order) {
    if (left + 1e-9 < step) break
    out[i] = (out[i] ?? 0) + step
    left -= step
  }
  return out
}
