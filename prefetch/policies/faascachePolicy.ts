import { MINUTE_MS, RELEASE, minuteOf, type Decision, type FunctionInfo, type Policy } from './policy.js'
import { param, resolveParams, type ParamSpecs } from './policyParams.js'

/**
 * Defaults: the memory budget is the `mem_capacity` default of the authors' simulator (aFuerst/faascache-sim,
 * LambdaScheduler.py: 32000 MB). Everything else is the paper's Greedy-Dual rule; see docs/prefetch.md.
 */
export const FAASCACHE_PARAMS: ParamSpecs = {
  memoryBudgetMb: { default: 32_000, min: 1, max: 1e9, summary: 'memory of the keep-alive cache: idle instances are evicted only when a new one does not fit (authors\' simulator default 32000 MB)' },
  coldStartCost: { default: 1, min: 0, max: 1e6, summary: 'cold-start cost of a function (the paper: init time = cold minus warm run time; the traces have none, so one constant)' }
}

/** Far in the future: "keep until evicted". */
const FOREVER = Number.MAX_SAFE_INTEGER

interface Entry {
  lastMinute: number
  memoryMb: number
  /** Invocations since the instance entered the cache (reset on eviction), as Container.frequency. */
  frequency: number
  priority: number
  inCache: boolean
  /** Bumped on every priority change, so stale heap entries are skipped. */
  version: number
}

/**
 * FaasCache (Fuerst and Sharma, "FaasCache: keeping serverless computing alive with greedy-dual caching",
 * ASPLOS 2021): keep-alive as caching. A function's instance stays loaded after use until memory runs out; then the
 * idle instances of lowest priority are evicted, where
 *     priority = clock + frequency x cost / size
 * (Greedy-Dual-Size-Frequency): frequency = invocations since it was cached, cost = cold-start cost, size = memory,
 * and the clock is raised to the priority of the last instance evicted, so entries not used since age relative to
 * new ones. There is no TTL and no pre-warming. Minute model: one instance per function, inserted when an arrival
 * finds none (a cold start), evicted at the next arrival anywhere that needs room.
 */
export class FaascachePolicy implements Policy {
  readonly name = 'faascache'
  readonly params: Readonly<Record<string, number>>
  readonly #fns = new Map<string, Entry>()
  readonly #info = new Map<string, FunctionInfo>()
  readonly #budgetMb: number
  readonly #cost: number
  #clock = 0
  #usedMb = 0
  /** Min-heap of [priority, version, fn]; lazy deletion by version. */
  readonly #heapPrio: number[] = []
  readonly #heapVer: number[] = []
  readonly #heapFn: string[] = []
  evictions = 0

  constructor (given: Readonly<Record<string, number | string>> = {}) {
    this.params = Object.freeze(resolveParams(this.name, FAASCACHE_PARAMS, given))
    this.#budgetMb = param(this.params, 'memoryBudgetMb')
    this.#cost = param(this.params, 'coldStartCost')
  }

  register (fn: string, info: FunctionInfo): void { this.#info.set(fn, info) }

  /** The cache clock (the priority of the last evicted instance), for tests. */
  get clock (): number { return this.#clock }
  /** Memory held by cached instances, MB. */
  get usedMb (): number { return this.#usedMb }
  isCached (fn: string): boolean { return this.#fns.get(fn)?.inCache === true }
  priority (fn: string): number { return this.#fns.get(fn)?.priority ?? NaN }

  observe (fn: string, timeMs: number, count: number): void {
    if (count <= 0) return
    const m = minuteOf(timeMs)
    let e = this.#fns.get(fn)
    if (e === undefined) {
      e = { lastMinute: m, memoryMb: Math.max(1, this.#info.get(fn)?.memoryMb ?? 128), frequency: 0, priority: 0, inCache: false, version: 0 }
      this.#fns.set(fn, e)
    }
    if (m > e.lastMinute) e.lastMinute = m
    if (!e.inCache) {
      // A miss: make room (evicting lowest priorities first), then insert.
      this.#evictFor(e.memoryMb, fn)
      if (this.#usedMb + e.memoryMb > this.#budgetMb) {
        // Does not fit even with everything else evicted: it runs, but is not kept.
        e.frequency = 0
        return
      }
      e.inCache = true
      e.frequency = 0
      this.#usedMb += e.memoryMb
    }
    e.frequency += count
    e.priority = this.#clock + e.frequency * this.#cost / e.memoryMb
    e.version++
    this.#push(e.priority, e.version, fn)
  }

  decide (fn: string, _nowMs: number): Decision {
    const e = this.#fns.get(fn)
    if (e === undefined || !e.inCache) return RELEASE
    return { prewarmAt: e.lastMinute * MINUTE_MS, keepAliveUntil: FOREVER, instances: 1 }
  }

  stateBytes (fn: string): number {
    // 4 numbers and a flag per function, plus its live heap slot (priority, version, key reference).
    return this.#fns.has(fn) ? 5 * 8 + 3 * 8 : 0
  }

  #evictFor (needMb: number, except: string): void {
    while (this.#usedMb + needMb > this.#budgetMb && this.#heapFn.length > 0) {
      const [prio, ver, victim] = this.#pop()
      const v = this.#fns.get(victim)
      if (v === undefined || !v.inCache || v.version !== ver || victim === except) continue
      v.inCache = false
      v.frequency = 0
      v.version++
      this.#usedMb -= v.memoryMb
      this.#clock = Math.max(this.#clock, prio)
      this.evictions++
    }
  }

  #push (prio: number, ver: number, fn: string): void {
    const hp = this.#heapPrio
    const hv = this.#heapVer
    const hf = this.#heapFn
    let i = hp.length
    hp.push(prio); hv.push(ver); hf.push(fn)
    while (i > 0) {
      const parent = (i - 1) >> 1
      if ((hp[parent] ?? 0) <= prio) break
      hp[i] = hp[parent] ?? 0; hv[i] = hv[parent] ?? 0; hf[i] = hf[parent] ?? ''
      i = parent
    }
    hp[i] = prio; hv[i] = ver; hf[i] = fn
    // Compact when stale entries dominate, so the heap stays O(cached functions).
    if (hp.length > 64 && hp.length > 4 * this.#fns.size) this.#rebuild()
  }

  #pop (): [number, number, string] {
    const hp = this.#heapPrio
    const hv = this.#heapVer
    const hf = this.#heapFn
    const top: [number, number, string] = [hp[0] ?? 0, hv[0] ?? 0, hf[0] ?? '']
    const lp = hp.pop() ?? 0
    const lv = hv.pop() ?? 0
    const lf = hf.pop() ?? ''
    const n = hp.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && (hp[r] ?? 0) < (hp[l] ?? 0) ? r : l
        if ((hp[c] ?? 0) >= lp) break
        hp[i] = hp[c] ?? 0; hv[i] = hv[c] ?? 0; hf[i] = hf[c] ?? ''
        i = c
      }
      hp[i] = lp; hv[i] = lv; hf[i] = lf
    }
    return top
  }

  #rebuild (): void {
    const live: Array<[number, number, string]> = []
    for (const [fn, e] of this.#fns) if (e.inCache) live.push([e.priority, e.version, fn])
    this.#heapPrio.length = 0; this.#heapVer.length = 0; this.#heapFn.length = 0
    live.sort((a, b) => a[0] - b[0])
    for (const [p, v, f] of live) { this.#heapPrio.push(p); this.#heapVer.push(v); this.#heapFn.push(f) }
  }
}
