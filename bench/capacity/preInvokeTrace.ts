import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runPreInvokeModel, type PreInvokeMode, type PreInvokeModelOptions, type PreInvokeModelResult } from './preInvokeModel.js'

/** The ULB sensing packets (R1..R3: one reading per node per minute) as arrival times per node, ms, ascending. */
export function ulbReadings (dir: string): Map<string, number[]> {
  const byNode = new Map<string, number[]>()
  for (const f of ['R1.txt', 'R2.txt', 'R3.txt']) {
    for (const line of readFileSync(join(dir, f), 'latin1').split('\n')) {
      const [ts, node] = line.trim().split(/\s+/)
      const t = Number(ts)
      if (node === undefined || !Number.isFinite(t)) continue
      let a = byNode.get(node)
      if (a === undefined) { a = []; byNode.set(node, a) }
      a.push(t)
    }
  }
  for (const a of byNode.values()) a.sort((x, y) => x - y)
  return byNode
}

export type PreInvokeTotals = Omit<PreInvokeModelResult, 'mode'> & { mode: PreInvokeMode; functions: number; durationSeconds: number }

/** Every node of the trace as one guaranteed function, in each mode; totals per mode. */
export function preInvokeOnTrace (byNode: ReadonlyMap<string, readonly number[]>, base: Omit<PreInvokeModelOptions, 'mode'>, modes: readonly PreInvokeMode[] = ['reserved', 'preinvoke', 'reactive']): PreInvokeTotals[] {
  return modes.map((mode) => {
    const t: PreInvokeTotals = { mode, functions: 0, durationSeconds: 0, arrivals: 0, coldStarts: 0, coldWhileReleased: 0, withinSlo: 0, instanceSeconds: 0, instancesStarted: 0, releases: 0, hits: 0, late: 0, missed: 0 }
    for (const arrivals of byNode.values()) {
      if (arrivals.length === 0) continue
      const r = runPreInvokeModel(arrivals, { ...base, mode })
      t.functions++
      t.durationSeconds += ((arrivals[arrivals.length - 1] ?? 0) - (arrivals[0] ?? 0)) / 1000
      for (const k of ['arrivals', 'coldStarts', 'coldWhileReleased', 'withinSlo', 'instanceSeconds', 'instancesStarted', 'releases', 'hits', 'late', 'missed'] as const) t[k] += r[k]
    }
    return t
  })
}
