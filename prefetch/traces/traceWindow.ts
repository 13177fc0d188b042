import { percentileSorted } from '../sim/simulate.js'
import type { FunctionSeries, Trace } from './trace.js'

/**
 * Minutes [fromMin, toMin) of a trace, renumbered from 0; functions without arrivals there are dropped. Used for
 * the time split (tune on the first half, report on the second).
 */
export function sliceTrace (trace: Trace, fromMin: number, toMin: number): Trace {
  const lo = Math.max(0, Math.floor(fromMin))
  const hi = Math.min(trace.minutes, Math.floor(toMin))
  const functions: FunctionSeries[] = []
  for (const f of trace.functions) {
    let a = 0
    while (a < f.minutes.length && (f.minutes[a] ?? 0) < lo) a++
    let b = a
    while (b < f.minutes.length && (f.minutes[b] ?? 0) < hi) b++
    if (b === a) continue
    const minutes = f.minutes.slice(a, b)
    for (let i = 0; i < minutes.length; i++) minutes[i] = (minutes[i] ?? 0) - lo
    functions.push({ ...f, minutes, counts: f.counts.slice(a, b) })
  }
  return { ...trace, source: `${trace.source} [minutes ${lo}..${hi})`, firstMinuteLabel: trace.firstMinuteLabel + lo, minutes: Math.max(0, hi - lo), functions }
}

/**
 * A synthetic scale trace: the real trace repeated `timeCopies` times back to back (a function's series continues
 * across the seam) and `fnCopies` times side by side under new ids (`<id>#k`). Only for simulator speed and memory:
 * it is not real data and no policy result on it is reported as one.
 */
export function tileTrace (trace: Trace, timeCopies: number, fnCopies: number): Trace {
  const functions: FunctionSeries[] = []
  const T = trace.minutes
  for (let k = 0; k < fnCopies; k++) {
    for (const f of trace.functions) {
      const n = f.minutes.length
      const minutes = new Uint32Array(n * timeCopies)
      const counts = new Uint32Array(n * timeCopies)
      for (let c = 0; c < timeCopies; c++) {
        for (let i = 0; i < n; i++) {
          minutes[c * n + i] = (f.minutes[i] ?? 0) + c * T
          counts[c * n + i] = f.counts[i] ?? 0
        }
      }
      functions.push({ ...f, id: k === 0 ? f.id : `${f.id}#${k}`, minutes, counts })
    }
  }
  return { ...trace, source: `${trace.source} tiled ${timeCopies}x in time, ${fnCopies}x in functions (synthetic)`, minutes: T * timeCopies, functions }
}

/**
 * The first-call floor: the p75 function cold-start % if only each function's first call were cold (100 / its
 * invocations), the least any online policy can reach without knowing a function before it is first invoked.
 */
export function firstCallFloorP75 (trace: Trace): number {
  const pcts: number[] = []
  for (const f of trace.functions) {
    let inv = 0
    for (const c of f.counts) inv += c
    if (inv > 0) pcts.push(100 / inv)
  }
  pcts.sort((a, b) => a - b)
  return pcts.length === 0 ? 0 : percentileSorted(pcts, 75)
}
