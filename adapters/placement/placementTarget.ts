import type { Clock } from '../../core/clock.js'
import type { ErrorCode } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'
import type { Metrics } from '../../core/metrics.js'
import type { DispatchResult, OutgoingEvent, Target } from '../target.js'
import type { LinkQueue } from './linkQueue.js'
import { NEAR_RUNS, TierPredictor, type TierState } from './tierPredictor.js'

export type PlacementMode = 'fastest' | 'ordered'

/** One candidate place a route's function runs. */
export interface Tier {
  /** The target's name in the config (`local`, or a key of `targets`). */
  name: string
  target: Target
  /** Requests it runs at once, all instances together (local: concurrency x maxScale; remote: its connections). */
  slots: number
  /** Requests one instance runs at once, when the target reports its load (the local pool): cold starts are then exact. */
  perInstance?: number | undefined
  /**
   * The uplink its requests go over, when placement should model the wait behind bytes already on it (every
   * sender on the link notes its requests there: linkedTarget). Its throughput is set from this tier's transfer fit.
   */
  link?: LinkQueue | undefined
}

/** Why a tier got a message. */
export type DecisionReason = 'best' | 'explore' | 'ordered' | 'failover'

/** One placed message, for logs, metrics and the benchmark. */
export interface PlacementRecord {
  functionName: string
  /** The CloudEvent id (the first of a batch). */
  eventId: string | undefined
  bytes: number
  tier: string
  reason: DecisionReason
  predictedMs: number
  measuredMs: number
  /** Every eligible tier's prediction at decision time. */
  predictions: Record<string, number>
  /** The same without the link wait, the arrival contention and the queue ahead from load.work (Prediction.baseMs): the model before them. */
  basePredictions: Record<string, number>
  /** The same with the contention term unscaled to the run's life (Prediction.contentionPsMs): the model before that. */
  psPredictions: Record<string, number>
  /**
   * The tier the rule before directed exploration would have sent it to, with the same predictions and the same
   * draw (the predicted best, or at a draw under `explore` another tier at once), so the bench can score both on one run.
   */
  legacyTier: string
  /**
   * The tier the rule before the cost credit would have sent it to (every held exploration spent: on a near-tie,
   * else on the message at hand once held 1 / explore decisions), with the same predictions and draws: its own
   * budget, run beside the live one.
   */
  previousTier: string
  /** Sent to a tier within its prediction's uncertainty of the best, spending a held exploration (decide). */
  directed: boolean
  ok: boolean
}

export interface PlacementOptions {
  /** The route's label, for metrics and logs. */
  label: string
  tiers: Tier[]
  mode: PlacementMode
  /** Share of messages sent to a tier that was not the predicted best, in [0, 1). */
  explore: number
  clock: Clock
  /** Milliseconds, fine-grained (performance.now); default clock.now. */
  now?: (() => number) | undefined
  /** In [0, 1): injected so tests know the draws. */
  random: () => number
  metrics?: Metrics | undefined
  log?: Logger | undefined
  /** Runs a tier must have before its prediction is trusted; until then it is explored first. Default 3. */
  minSamples?: number
  /** Failures in a row that open a tier's breaker. Default 3. */
  failuresToOpen?: number
  /** How long an open breaker skips the tier; doubles on each failed probe, up to 60 s. Default 5000 ms. */
  openMs?: number
  onDecision?: ((r: PlacementRecord) => void) | undefined
  /**
   * A tier with fewer than 2 runs near a message's size (within 20%) has only a line's extrapolation there;
   * it is tried, at most this many times per function and tier in all (default 48, two fit windows), so each
   * tier learns each size the route sees. 0: off.
   */
  gapExploreLimit?: number
  /**
   * How fast a tier's speed is taken to drift, ms: a fit's uncertainty at a size grows as if its level took a
   * random walk of one run-to-run spread per `driftMs` since it last ran there (TierPredictor.uncertaintyMs).
   * Default 60 000.
   */
  driftMs?: number
}

/** Explorations a function has earned and not yet spent, and the cost credit undirected ones draw on (decide). */
interface ExploreBudget { decisions: number; tokens: number; heldSince: number; spent: number; dropped: number; creditMs: number }

/**
 * One decision's part in a function's exploration budget: earns a token on a draw (`drawn` >= 0, the tier the
 * draw picked), and spends a held one on the tier `nearLoser` names (directed), or, when the token has waited
 * 1 / explore decisions or a second is held, on the drawn tier or the next in turn. With `costed`, every decision
 * adds explore x the best's prediction to the credit, and that undirected spend happens only when its predicted
 * cost (the tier's prediction minus the best's) is covered by the credit, which it then draws down; else the token
 * is dropped (counted). Without `costed`: the rule before the credit (every token spent). Returns the tier to try
 * first, or -1.
 */
function spendExploration (b: ExploreBudget, drawn: number, explore: number, byPrediction: readonly number[], predictions: readonly number[], nearLoser: () => number, costed: boolean): { tier: number; directed: boolean } {
  const bestMs = predictions[byPrediction[0] as number] as number
  b.decisions++
  if (costed && Number.isFinite(bestMs) && bestMs > 0) b.creditMs += explore * bestMs
  if (drawn !== -1) {
    if (b.tokens === 0) b.heldSince = b.decisions
    b.tokens++
  }
  if (b.tokens === 0) return { tier: -1, directed: false }
  const take = (tier: number, directed: boolean): { tier: number; directed: boolean } => {
    b.tokens--
    b.spent++
    b.heldSince = b.decisions
    return { tier, directed }
  }
  const j = nearLoser()
  if (j !== -1) return take(j, true)
  if (!(b.tokens > 1 || b.decisions - b.heldSince >= Math.ceil(1 / explore))) return { tier: -1, directed: false }
  const at = drawn !== -1 ? drawn : byPrediction[1 + b.spent % (byPrediction.length - 1)] as number
  if (costed) {
    const cost = Math.max(0, (predictions[at] as number) - bestMs)
    if (!(cost <= b.creditMs)) {
      b.tokens--
      b.dropped++
      b.heldSince = b.decisions
      return { tier: -1, directed: false }
    }
    b.creditMs -= cost
  }
  return take(at, false)
}

interface TierHealth { failures: number; openUntil: number; openMs: number }

/**
 * The function's own verdict on the message: sending it to another tier would give the same answer (or, for
 * a crash, spread a poison message). Everything else (refused, timed out, unreachable, not HTTP, a non-2xx
 * without a body, a throw) is the tier's failure, and the message fails over to the next tier.
 */
const VERDICTS = new Set<ErrorCode>(['FUNCTION_BAD_INPUT', 'FUNCTION_CRASHED', 'FUNCTION_BAD_REPLY', 'PAYLOAD_TOO_LARGE', 'PAYLOAD_NOT_JSON', 'OPENWHISK_FUNCTION_ERROR', 'TARGET_REQUEST_INVALID', 'TARGET_ABORTED'])

export function isTierFailure (r: DispatchResult & { status: 'rejected' }): boolean {
  if (VERDICTS.has(r.code)) return false
  if (r.code === 'TARGET_HTTP_STATUS' && !r.retryable && r.emptyBody !== true) return false
  return true
}

const MAX_OPEN_MS = 60_000

/**
 * A route with several tiers, as one Target (adapters/target.ts): each message goes where STOIC's model
 * (tierPredictor.ts) says it comes back first (`fastest`), or to the first healthy tier (`ordered`); a small
 * share explores another tier so one that became faster is found again. A tier that fails is skipped for the
 * next best within the same attempt (no backoff: the other tier is independent); failures in a row open its
 * breaker for a while. When every tier failed, the last failure is returned and the adapter's RetryingTarget
 * (which wraps this) backs off and tries the whole placement again, then dead-letters: nothing is lost.
 */
export class PlacementTarget implements Target {
  readonly kind = 'placement'
  readonly #o: PlacementOptions
  readonly #now: () => number
  readonly #predictors = new Map<string, TierPredictor[]>()
  readonly #inFlight: number[]
  readonly #health: TierHealth[]
  readonly #minSamples: number
  readonly #budgets = new Map<string, ExploreBudget>()
  /** The rule before the cost credit (every held exploration spent), run on the same draws: PlacementRecord.previousTier. */
  readonly #previousBudgets = new Map<string, ExploreBudget>()

  constructor (opts: PlacementOptions) {
    if (opts.tiers.length === 0) throw new RangeError('a placement needs at least one tier')
    if (!(opts.explore >= 0 && opts.explore < 1)) throw new RangeError(`explore must be in [0, 1), got ${opts.explore}`)
    this.#o = opts
    this.#now = opts.now ?? (() => opts.clock.now())
    this.#inFlight = opts.tiers.map(() => 0)
    this.#health = opts.tiers.map(() => ({ failures: 0, openUntil: 0, openMs: opts.openMs ?? 5000 }))
    this.#minSamples = opts.minSamples ?? 3
  }

  get tiers (): readonly Tier[] { return this.#o.tiers }

  /** The predictor of a function on a tier (created on first use). */
  predictor (functionName: string, tierIndex: number): TierPredictor {
    let list = this.#predictors.get(functionName)
    if (list === undefined) {
      list = this.#o.tiers.map(() => new TierPredictor())
      this.#predictors.set(functionName, list)
    }
    return list[tierIndex] as TierPredictor
  }

  /** Whether a tier's breaker is open now. */
  isOpen (tierIndex: number): boolean { return (this.#health[tierIndex] as TierHealth).openUntil > this.#o.clock.now() }

  /**
   * The order to try the tiers in for one message, first the chosen one, and why. Pure apart from one draw
   * of randomness and the count of gap explorations it makes; cheap (a scan of each tier's fit window),
   * measured in bench/placement/decisionCost.ts.
   */
  decide (functionName: string, bytes: number): { order: number[]; reason: DecisionReason; predictions: number[]; base: number[]; ps: number[]; legacy: number; previous: number; directed: boolean } {
    const tiers = this.#o.tiers
    const n = tiers.length
    const predictions: number[] = new Array<number>(n)
    const base: number[] = new Array<number>(n)
    const ps: number[] = new Array<number>(n)
    for (let i = 0; i < n; i++) {
      const p = this.predictor(functionName, i).predict(bytes, this.#state(functionName, i))
      predictions[i] = p.totalMs
      base[i] = p.baseMs
      ps[i] = p.totalMs - p.contentionMs + p.contentionPsMs
    }
    const healthy: number[] = []
    const open: number[] = []
    for (let i = 0; i < n; i++) (this.isOpen(i) ? open : healthy).push(i)
    if (this.#o.mode === 'ordered' || n === 1) return { order: [...healthy, ...open], reason: 'ordered', predictions, base, ps, legacy: healthy[0] ?? open[0] as number, previous: healthy[0] ?? open[0] as number, directed: false }
    if (healthy.length === 0) {
      const order = open.sort((a, b) => (predictions[a] as number) - (predictions[b] as number))
      return { order, reason: 'best', predictions, base, ps, legacy: order[0] as number, previous: order[0] as number, directed: false }
    }
    // A tier with too few runs has no prediction worth the name: it is tried first (learning, counted as exploring).
    let first = -1
    let reason: DecisionReason = 'best'
    for (const i of healthy) {
      if (this.predictor(functionName, i).samples < this.#minSamples) { first = i; reason = 'explore'; break }
    }
    const byPrediction = [...healthy].sort((a, b) => (predictions[a] as number) - (predictions[b] as number))
    if (first === -1) {
      // A tier with no run near this size: its prediction is a line's extrapolation; try it (bounded in all).
      const limit = this.#o.gapExploreLimit ?? 48
      for (const i of byPrediction) {
        const pr = this.predictor(functionName, i)
        if (pr.gapExplored < limit && pr.runsNear(bytes) < NEAR_RUNS) { first = i; reason = 'explore'; pr.gapExplored++; break }
      }
    }
    let legacy = first
    let previous = first
    let directed = false
    if (first === -1) {
      first = byPrediction[0] as number
      legacy = first
      previous = first
      const explore = this.#o.explore
      if (healthy.length > 1 && explore > 0) {
        // Exploration is earned as before, by a draw under `explore` (so its share stays the configured one), and
        // spent where it is worth most: on a message for which another tier's prediction is within its
        // uncertainty of the best (a near-tie, or a fit that has not been refreshed for a while), held for up to
        // 1 / explore decisions to meet one. Unmet, it goes to the message at hand only if the predicted cost
        // (that tier's margin over the best) is covered by the cost credit, which every decision adds
        // `explore` x the best's prediction to; else it is dropped (counted). So undirected explorations cost at
        // most `explore` of the predicted time, and a stale fit is still refreshed once the credit covers it.
        const u = this.#o.random()
        // The tiers after the best, byPrediction[1..]: the draw picks one of them uniformly, reusing u.
        const others = byPrediction.length - 1
        const drawn = u < explore ? byPrediction[1 + Math.min(others - 1, Math.floor((u / explore) * others))] as number : -1
        if (drawn !== -1) legacy = drawn
        let loser: number | undefined
        const nearLoser = (): number => (loser ??= this.#uncertainLoser(functionName, bytes, byPrediction, predictions))
        const got = spendExploration(this.#budget(this.#budgets, functionName), drawn, explore, byPrediction, predictions, nearLoser, true)
        const before = spendExploration(this.#budget(this.#previousBudgets, functionName), drawn, explore, byPrediction, predictions, nearLoser, false)
        if (before.tier !== -1) previous = before.tier
        if (got.tier !== -1) { first = got.tier; reason = 'explore'; directed = got.directed }
      }
    }
    return { order: [first, ...byPrediction.filter((i) => i !== first), ...open], reason, predictions, base, ps, legacy: legacy === -1 ? first : legacy, previous: previous === -1 ? first : previous, directed }
  }

  /** This function's explorations so far: spent, and dropped because the cost credit did not cover them (decide). */
  explorations (functionName: string): { spent: number; dropped: number; creditMs: number } {
    const b = this.#budget(this.#budgets, functionName)
    return { spent: b.spent, dropped: b.dropped, creditMs: b.creditMs }
  }

  #budget (budgets: Map<string, ExploreBudget>, functionName: string): ExploreBudget {
    let b = budgets.get(functionName)
    if (b === undefined) { b = { decisions: 0, tokens: 0, heldSince: 0, spent: 0, dropped: 0, creditMs: 0 }; budgets.set(functionName, b) }
    return b
  }

  /**
   * The first tier after the predicted best (in prediction order) whose margin over it is within one standard
   * deviation of their difference, sqrt(sigma_best^2 + sigma_tier^2), each sigma the tier's
   * TierPredictor.uncertaintyMs at this size now (of the execution part, the one that drifts); -1 when none.
   */
  #uncertainLoser (functionName: string, bytes: number, byPrediction: number[], predictions: number[]): number {
    const drift = this.#o.driftMs ?? 60_000
    const now = this.#now()
    const bestI = byPrediction[0] as number
    const sb = this.predictor(functionName, bestI).uncertaintyMs(bytes, now, drift)
    for (let k = 1; k < byPrediction.length; k++) {
      const j = byPrediction[k] as number
      const sj = this.predictor(functionName, j).uncertaintyMs(bytes, now, drift)
      const sd = Math.sqrt(sb * sb + sj * sj)
      if ((predictions[j] as number) - (predictions[bestI] as number) <= sd) return j
    }
    return -1
  }

  dispatch (functionName: string, event: OutgoingEvent, opts: { signal?: AbortSignal } = {}): Promise<DispatchResult> {
    return this.#run(functionName, event.attributes.id, event.data.length, (t) => t.dispatch(functionName, event, opts), opts.signal)
  }

  dispatchBatch (functionName: string, events: OutgoingEvent[], opts: { signal?: AbortSignal } = {}): Promise<DispatchResult> {
    const bytes = events.reduce((s, e) => s + e.data.length, 0)
    return this.#run(functionName, events[0]?.attributes.id, bytes, (t) => t.dispatchBatch !== undefined
      ? t.dispatchBatch(functionName, events, opts)
      : Promise.resolve<DispatchResult>({ status: 'rejected', retryable: false, code: 'TARGET_REQUEST_INVALID', message: `${t.kind} target takes no batches` }), opts.signal)
  }

  async close (): Promise<void> {
    // The tiers are shared targets (closed by whoever built them), not owned here.
  }

  /**
   * What placement knows of a tier now: its own requests in flight there; for a tier that reports its load
   * (the local pool) also the exact load, whether the next request waits for a cold start, and how many other
   * requests share the machine's CPU with it (the other functions', and this one's other slots).
   */
  #state (functionName: string, i: number): TierState {
    const tier = this.#o.tiers[i] as Tier
    const load = tier.perInstance === undefined ? undefined : tier.target.load?.(functionName)
    const busy = this.#inFlight[i] as number
    const linkWaitMs = tier.link?.waitMs()
    if (load === undefined || tier.perInstance === undefined) return { busy, slots: tier.slots, linkWaitMs }
    const all = Math.max(busy, load.inFlight + load.queued)
    const warmSlots = load.warmInstances * tier.perInstance
    const coldChance = all >= warmSlots && warmSlots < tier.slots ? 1 : 0
    return { busy: all, slots: tier.slots, coldChance, sharing: (load.otherInFlight ?? 0) + Math.min(load.inFlight, tier.slots - 1), linkWaitMs, utilization: load.utilization, competingServiceMs: load.competingServiceMs, ahead: load.work }
  }

  async #run (functionName: string, eventId: string | undefined, bytes: number, send: (t: Target) => Promise<DispatchResult>, signal: AbortSignal | undefined): Promise<DispatchResult> {
    const { order, reason, predictions, base, ps, legacy, previous, directed } = this.decide(functionName, bytes)
    let last: DispatchResult | undefined
    let anyRetryable = false
    for (let k = 0; k < order.length; k++) {
      if (k > 0 && signal?.aborted === true) break
      const i = order[k] as number
      const tier = this.#o.tiers[i] as Tier
      const why: DecisionReason = k === 0 ? reason : 'failover'
      const before = this.#state(functionName, i)
      const queuedAhead = before.busy + 1 - tier.slots
      this.#inFlight[i] = (this.#inFlight[i] as number) + 1
      const t0 = this.#now()
      let result: DispatchResult
      try {
        result = await send(tier.target)
      } catch (err) {
        result = { status: 'rejected', retryable: true, code: 'TARGET_UNREACHABLE', message: `${tier.name}: ${(err as Error).message}` }
      } finally {
        this.#inFlight[i] = (this.#inFlight[i] as number) - 1
      }
      const measuredMs = this.#now() - t0
      const failed = result.status === 'rejected' && isTierFailure(result)
      this.#record(functionName, eventId, bytes, i, why, predictions, base, ps, measuredMs, !failed, k === 0 ? legacy : i, k === 0 ? previous : i, k === 0 && directed)
      if (!failed) {
        this.#healthy(i)
        if (result.status === 'ok') {
          // Where the load is exact, so is a cold start (the pool's own flag also says so of a wait for a busy slot).
          const coldStart = before.coldChance === undefined ? result.coldStart : before.coldChance === 1
          const sharing = Math.max(before.sharing ?? 0, this.#state(functionName, i).sharing ?? 0)
          const pr = this.predictor(functionName, i)
          pr.observe({ bytes, totalMs: measuredMs, handlerMs: result.handlerMs, coldStart, queuedAhead, sharing, linkWaitMs: before.linkWaitMs, utilization: before.utilization, atMs: this.#now() })
          if (tier.link !== undefined && pr.transfer.slope > 0) tier.link.msPerByte = pr.transfer.slope
        }
        return result
      }
      this.#failed(i, result as DispatchResult & { status: 'rejected' })
      anyRetryable ||= (result as { retryable: boolean }).retryable
      last = result
    }
    if (last === undefined) return { status: 'rejected', retryable: true, code: 'TARGET_ABORTED', message: `${this.#o.label}: cancelled before any tier was tried` }
    // Every tier failed: retryable when one of the failures was, so the adapter backs off and places it again.
    return { ...last, retryable: anyRetryable, message: `every tier failed (${this.#o.tiers.map((t) => t.name).join(', ')}); last: ${(last as { message: string }).message}` } as DispatchResult
  }

  #healthy (i: number): void {
    const h = this.#health[i] as TierHealth
    h.failures = 0
    h.openUntil = 0
    h.openMs = this.#o.openMs ?? 5000
  }

  #failed (i: number, r: DispatchResult & { status: 'rejected' }): void {
    const h = this.#health[i] as TierHealth
    h.failures++
    const tier = this.#o.tiers[i] as Tier
    const now = this.#o.clock.now()
    if (h.failures >= (this.#o.failuresToOpen ?? 3)) {
      const wasProbe = h.openUntil !== 0
      if (wasProbe) h.openMs = Math.min(MAX_OPEN_MS, h.openMs * 2)
      h.openUntil = now + h.openMs
      this.#o.log?.warn({ code: r.code, route: this.#o.label, tier: tier.name, failures: h.failures, openMs: h.openMs, err: r.message }, 'placement tier failing: skipped for a while')
    } else {
      this.#o.log?.debug({ code: r.code, route: this.#o.label, tier: tier.name, err: r.message }, 'placement tier failed: next tier')
    }
  }

  #record (functionName: string, eventId: string | undefined, bytes: number, i: number, reason: DecisionReason, predictions: number[], base: number[], ps: number[], measuredMs: number, ok: boolean, legacy: number, previous: number, directed: boolean): void {
    const tiers = this.#o.tiers
    const tier = (tiers[i] as Tier).name
    const predictedMs = predictions[i] as number
    const m = this.#o.metrics
    if (m !== undefined) {
      m.placementDecisions.inc({ route: this.#o.label, tier, reason })
      if (ok) {
        m.placementLatency.observe({ route: this.#o.label, tier, kind: 'predicted' }, predictedMs / 1000)
        m.placementLatency.observe({ route: this.#o.label, tier, kind: 'measured' }, measuredMs / 1000)
        let best = measuredMs
        for (let j = 0; j < predictions.length; j++) if (j !== i && !this.isOpen(j)) best = Math.min(best, predictions[j] as number)
        m.placementRegret.observe({ route: this.#o.label }, (measuredMs - best) / 1000)
      }
    }
    if (this.#o.onDecision !== undefined) {
      const byName: Record<string, number> = {}
      const baseByName: Record<string, number> = {}
      const psByName: Record<string, number> = {}
      tiers.forEach((t, j) => { byName[t.name] = predictions[j] as number; baseByName[t.name] = base[j] as number; psByName[t.name] = ps[j] as number })
      this.#o.onDecision({ functionName, eventId, bytes, tier, reason, predictedMs, measuredMs, predictions: byName, basePredictions: baseByName, psPredictions: psByName, legacyTier: (tiers[legacy] as Tier).name, previousTier: (tiers[previous] as Tier).name, directed, ok })
    }
  }
}
