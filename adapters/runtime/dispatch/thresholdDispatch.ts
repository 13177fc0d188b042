/** What a dispatch strategy sees of an instance. */
export interface Dispatchable {
  readonly inFlight: number
  /** Clock ms of its last start or end of a request (busiest-first breaks ties with it). */
  readonly lastUsedAt: number
}

/**
 * Picks the instance of a pool a request goes to, among those with a free slot (`inFlight < slots`);
 * undefined when none has one. Pure but for the randomness it is given and, for threshold, its threshold.
 */
export interface DispatchStrategy {
  readonly name: DispatchStrategyName
  pick<T extends Dispatchable>(instances: readonly T[], slots: number): T | undefined
}

export type DispatchStrategyName = 'busiest' | 'jsq' | 'random' | 'threshold'

/** Today's rule: the fullest instance with a free slot (latest used on a tie), so the others go idle and can be reaped. */
export const busiestFirst: DispatchStrategy = {
  name: 'busiest',
  pick (instances, slots) {
    let best: (typeof instances)[number] | undefined
    for (const inst of instances) {
      if (inst.inFlight >= slots) continue
      if (best === undefined || inst.inFlight > best.inFlight || (inst.inFlight === best.inFlight && inst.lastUsedAt > best.lastUsedAt)) best = inst
    }
    return best
  }
}

/** Join the shortest queue: the least loaded instance (the first on a tie). */
export const joinShortestQueue: DispatchStrategy = {
  name: 'jsq',
  pick (instances, slots) {
    let best: (typeof instances)[number] | undefined
    for (const inst of instances) if (inst.inFlight < slots && (best === undefined || inst.inFlight < best.inFlight)) best = inst
    return best
  }
}

/** A uniformly random instance with a free slot. */
export function randomDispatch (random: () => number): DispatchStrategy {
  return {
    name: 'random',
    pick (instances, slots) {
      const free = instances.filter((i) => i.inFlight < slots)
      return free.length === 0 ? undefined : free[Math.min(free.length - 1, Math.floor(random() * free.length))]
    }
  }
}

/**
 * Self-learning threshold dispatch (Goldsztajn, Borst, van Leeuwaarden, Mukherjee, Whiting, "Self-learning
 * threshold-based load balancing"; the rule of dynamiclambda.m in diegogolds/self-learning-threshold-policy):
 * a request goes to an instance with fewer than L in flight, chosen at random; else to one with exactly L;
 * else to any with a free slot. After each dispatch the threshold learns:
 * - up by one when every instance has at least L + 1 in flight (and L + 1 < slots);
 * - down by one when at most alpha x N instances have at least L in flight (the paper writes alpha N + 1,
 *   a large-N form: with the few instances of one function it would lower L on almost every arrival).
 * It tracks the load level the arrivals need with one integer of state, where JSQ scans for the minimum.
 *
 * Which instance of the chosen set: `choose: 'random'` as in the paper; `'recent'` (the default) the one used
 * last. The paper's guarantees are about the set (below L, else at L), not the member, so `recent` keeps them,
 * and at low load, where L stays at 1 and every idle instance is "below L", it keeps reusing the same few
 * instances, so the others go idle and are reaped, as busiest-first lets them (random spreads work over all).
 */
export class ThresholdDispatch implements DispatchStrategy {
  readonly name = 'threshold'
  readonly #alpha: number
  readonly #random: () => number
  readonly #recent: boolean
  #threshold: number

  constructor (opts: { alpha?: number; random: () => number; initial?: number; choose?: 'random' | 'recent' }) {
    this.#alpha = opts.alpha ?? 0.5
    if (!(this.#alpha > 0 && this.#alpha < 1)) throw new RangeError(`alpha must be in (0, 1), got ${this.#alpha}`)
    this.#random = opts.random
    this.#recent = (opts.choose ?? 'recent') === 'recent'
    this.#threshold = opts.initial ?? 1
  }

  /** L: the load an instance is filled to before the next one is. */
  get threshold (): number { return this.#threshold }

  pick<T extends Dispatchable>(instances: readonly T[], slots: number): T | undefined {
    const l = this.#threshold
    const below: T[] = []
    const at: T[] = []
    const free: T[] = []
    for (const inst of instances) {
      if (inst.inFlight >= slots) continue
      free.push(inst)
      if (inst.inFlight < l) below.push(inst)
      else if (inst.inFlight === l) at.push(inst)
    }
    const from = below.length > 0 ? below : at.length > 0 ? at : free
    if (from.length === 0) return undefined
    const chosen = this.#recent ? mostRecent(from) : from[Math.min(from.length - 1, Math.floor(this.#random() * from.length))] as T
    this.#learn(instances, chosen, slots)
    return chosen
  }

  #learn (instances: readonly Dispatchable[], chosen: Dispatchable, slots: number): void {
    const n = instances.length
    const l = this.#threshold
    let atLeastL = 0
    let atLeastH = 0
    for (const inst of instances) {
      const load = inst.inFlight + (inst === chosen ? 1 : 0)
      if (load >= l) atLeastL++
      if (load >= l + 1) atLeastH++
    }
    if (l + 1 < slots && atLeastH === n) this.#threshold = l + 1
    else if (l > 0 && atLeastL <= this.#alpha * n) this.#threshold = l - 1
  }
}

function mostRecent<T extends Dispatchable> (from: readonly T[]): T {
  let best = from[0] as T
  for (const inst of from) if (inst.lastUsedAt > best.lastUsedAt) best = inst
  return best
}

/** The strategy a pool is configured with (functions.<name>.dispatch). */
export function dispatchStrategy (name: DispatchStrategyName, random: () => number = Math.random): DispatchStrategy {
  switch (name) {
    case 'busiest': return busiestFirst
    case 'jsq': return joinShortestQueue
    case 'random': return randomDispatch(random)
    case 'threshold': return new ThresholdDispatch({ random })
  }
}
