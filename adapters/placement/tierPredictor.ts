import { arrivalContentionMs, lifeShare } from './arrivalLoad.js'
import { median, RobustFit } from './robustFit.js'

/** What one finished run on a tier says. */
export interface TierObservation {
  /** Payload bytes sent. */
  bytes: number
  /** Send to last byte of the answer, ms. */
  totalMs: number
  /** The handler's own time (Server-Timing), when the tier reports it. */
  handlerMs?: number | undefined
  /** The tier said it started an instance for this run. */
  coldStart?: boolean | undefined
  /** Requests ahead of this one beyond the tier's slots when it was sent (> 0: it queued). */
  queuedAhead: number
  /**
   * Other requests running on the same machine when it was sent or when it ended, whichever is more (the
   * local pool: the other functions' and this function's other instances'); 0 or absent for a remote tier,
   * whose machines placement does not see.
   */
  sharing?: number | undefined
  /** The machine's offered load when it was sent (TierState.utilization): the execution fits learn under it. */
  utilization?: number | undefined
  /** The modelled wait for the bytes ahead on the tier's link when it was sent (LinkQueue); transfer fits only runs that had none. */
  linkWaitMs?: number | undefined
  /** When it ended (the placement's clock, ms): how fresh the fit's knowledge of this size is (uncertaintyMs). */
  atMs?: number | undefined
}

/**
 * The predicted total, and its parts, in ms. `linkMs` (the wait behind bytes already on the link) and
 * `contentionMs` (the expected slowdown from work arriving while it runs) are in `totalMs`; `baseMs` is the
 * total of the model before them and before `queueMs` counted what the requests ahead have left (a run of
 * this message's size per request ahead), kept so the bench can score both on one run.
 */
export interface Prediction {
  totalMs: number; transferMs: number; coldMs: number; queueMs: number; execMs: number; linkMs: number; contentionMs: number; baseMs: number
  /** The contention term before it was scaled to the run's life (lifeShare 1: the PS mean), kept so the bench can score both on one run. */
  contentionPsMs: number
}

/** The tier's state when a message is placed. */
export interface TierState {
  /** Requests in flight and queued there now. */
  busy: number
  /** Requests it runs at once. */
  slots: number
  /** Chance the next request waits for a cold start; undefined: use the learned rate. */
  coldChance?: number | undefined
  /** Other requests running on the same machine now (TierObservation.sharing); 0 or absent: none known. */
  sharing?: number | undefined
  /** How long a message sent now waits behind the bytes already on the tier's link (LinkQueue.waitMs); 0 or absent: none. */
  linkWaitMs?: number | undefined
  /** The machine's offered load from arrivals (ArrivalLoad.utilization: rate x mean service); 0 or absent: not known (a remote tier). */
  utilization?: number | undefined
  /** The service times of the arrivals `utilization` counts (TargetLoad.competingServiceMs); absent: the PS mean, unscaled. */
  competingServiceMs?: readonly number[] | undefined
  /**
   * The requests ahead there, when the tier says (the local pool's load.work): running ones with the ms since
   * they got their slot, waiting ones without. The queueing wait is then what they have left, spread over the
   * slots, instead of a run of this message's size per request ahead.
   */
  ahead?: ReadonlyArray<{ bytes: number; elapsedMs: number | undefined }> | undefined
}

const COLD_WINDOW = 8
/** A warm run this many times slower than predicted (and 50 ms more) counts as a cold start nobody reported. */
const OUTLIER_FACTOR = 4
/** Shared runs needed before their own fit predicts shared runs. */
const MIN_SHARED = 3
/**
 * Runs near a size (within 20%) that predict it by their median instead of the fit's line. PlacementTarget
 * tries a tier at a size until it has this many there, so the two agree: with the fit's default of 3, a size a
 * tier had run twice (a big frame on the slow edge, sent there only to learn it) was still predicted by a line
 * through the small sizes it runs every day, far under its real time.
 */
export const NEAR_RUNS = 2

/** Floor of a size's run-to-run spread, as a share of its level: a fit whose few runs agree is not thereby exact. */
const MIN_SPREAD_SHARE = 0.1

/**
 * STOIC's latency model for one function on one tier, fed by every result (Zhang, Krintz, Wolski 2021):
 * total = transfer + cold start + queueing + execution, where
 * - transfer: a robust fit of (total - handler time) against payload bytes: its intercept is the round trip,
 *   its slope the inverse throughput;
 * - cold start: the chance of one (exact when the tier knows, else the learned share of cold runs) times the
 *   median of the last cold-start excesses;
 * - queueing: requests ahead of this one beyond the tier's slots: when the tier lists them (the local pool),
 *   what they have left to run over its slots; else each slot freeing after one run of this size;
 * - execution: the handler time against payload bytes: the median of the runs of about the same size, else a
 *   robust line (RobustFit.predictNear). Runs that shared the machine with other work (the local pool knows:
 *   an edge box's few cores, or its CPU quota, are shared by every function on it) are fitted apart from runs
 *   that had it alone, and predict a run that will share it; until there are a few, a shared run is taken as
 *   processor sharing (alone time x (1 + others));
 * - link (a remote tier with a LinkQueue): the wait behind the bytes already on the shared uplink;
 * - contention (a tier whose machine reports its offered load, the local pool): work arriving while the run
 *   runs shares the CPU with it (M/G/1 processor sharing: alone time / (1 - rho)). The execution fits were
 *   learned under some load already (rho_fit, the mean over their runs), so only the change counts:
 *   extra = execution x (rho - rho_fit) / (1 - rho), scaled by the share of it that work arriving during the
 *   run's own life can inflict (arrivalLoad.ts lifeShare: what runs at send is already counted by sharing and
 *   the queue ahead; a run far shorter than the competing work gets about x / (2 E[S]) of it, a long one all).
 */
export class TierPredictor {
  readonly exec = new RobustFit()
  readonly execShared = new RobustFit()
  readonly transfer = new RobustFit()
  readonly #coldExcess: number[] = []
  #coldRate = 0
  #samples = 0
  /** The mean offered load the execution fits were learned under (about their window: 1/24 per run). */
  #fitRho = 0
  #fitRhoSeen = false

  /** Runs sent here only because it had no run near their size (PlacementTarget's gap exploration). */
  gapExplored = 0

  /** Runs near this size that its execution fits hold (alone or shared). */
  runsNear (bytes: number): number { return this.exec.countNear(bytes) + this.execShared.countNear(bytes) }

  /** Runs observed. */
  get samples (): number { return this.#samples }
  /** The learned share of runs that were cold. */
  get coldRate (): number { return this.#coldRate }

  /**
   * One standard deviation of the execution prediction at `bytes` at time `nowMs`, ms. The runs near that size
   * (alone and shared together, as #alone may use) spread by s (their robust sd, at least MIN_SPREAD_SHARE of
   * the level), so their median is known to about s / sqrt(n); and a tier's speed drifts (an edge box's other
   * work, a cloud's neighbours, the machine's load), taken as a random walk adding s^2 per `driftMs` since the
   * newest of them ran: sigma = s sqrt(1/n + age / driftMs). A fit nobody refreshed grows less sure of itself.
   * Infinity with fewer than NEAR_RUNS near runs (gap exploration's case); runs without a time count as never
   * refreshed (age 0, so sigma is the fresh one). O(window^2) at worst; PlacementTarget asks only when it holds
   * an exploration to spend.
   */
  uncertaintyMs (bytes: number, nowMs: number, driftMs: number): number {
    const a = this.exec.nearStats(bytes)
    const b = this.execShared.nearStats(bytes)
    const n = a.count + b.count
    if (n < NEAR_RUNS) return Number.POSITIVE_INFINITY
    const spread = a.count >= b.count ? a.spread : b.spread
    const s = Math.max(spread, MIN_SPREAD_SHARE * this.#alone(bytes))
    const newest = Math.max(a.newestMs, b.newestMs)
    const age = Number.isFinite(newest) && nowMs > newest ? nowMs - newest : 0
    return s * Math.sqrt(1 / n + age / driftMs)
  }

  predict (bytes: number, state: TierState): Prediction {
    const alone = this.#alone(bytes)
    const execMs = this.#exec(bytes, state.sharing ?? 0, alone)
    const transferMs = this.transfer.predict(bytes)
    const coldTime = this.#coldExcess.length === 0 ? 0 : median(this.#coldExcess)
    const coldMs = (state.coldChance ?? this.#coldRate) * coldTime
    const ahead = state.busy + 1 - state.slots
    const queueBaseMs = ahead > 0 ? (ahead / state.slots) * alone : 0
    const queueMs = ahead > 0 && state.ahead !== undefined ? this.#workLeft(state.ahead, state.sharing ?? 0) / state.slots : queueBaseMs
    const linkMs = state.linkWaitMs !== undefined && state.linkWaitMs > 0 ? state.linkWaitMs : 0
    const contentionPsMs = state.utilization === undefined ? 0 : arrivalContentionMs(execMs, state.utilization, this.#fitRho)
    const contentionMs = contentionPsMs === 0 ? 0 : contentionPsMs * lifeShare(execMs, state.competingServiceMs)
    const baseMs = transferMs + coldMs + queueBaseMs + execMs
    return { totalMs: transferMs + coldMs + queueMs + execMs + linkMs + contentionMs, transferMs, coldMs, queueMs, execMs, linkMs, contentionMs, baseMs, contentionPsMs }
  }

  /**
   * What the requests ahead have left to run, each as it runs now (beside `sharing` others): a waiting one its
   * whole run; a running one the mean residual time of the fit's runs of its size that lasted longer than it
   * has so far (a run past the usual time is most likely a slow one, as under a CPU quota: the quota's next
   * period decides), else, when it has outlasted them all, half a run more (a guess: the window knows nothing
   * that long).
   */
  #workLeft (ahead: ReadonlyArray<{ bytes: number; elapsedMs: number | undefined }>, sharing: number): number {
    const fit = sharing > 0 && this.execShared.count >= MIN_SHARED ? this.execShared : this.exec
    let left = 0
    for (const w of ahead) {
      const run = this.#exec(w.bytes, sharing, this.#alone(w.bytes))
      if (w.elapsedMs === undefined) { left += run; continue }
      left += fit.residualNear(w.bytes, w.elapsedMs) ?? run / 2
    }
    return left
  }

  /**
   * Execution time at `bytes` with the machine to itself: the median of the alone runs near that size when there
   * are NEAR_RUNS of them; else, when the alone and shared runs near it together are that many (a size the slow
   * tier gets seldom, perhaps while other work ran), the median of those (a little high, never a line through
   * other sizes); else the alone fit's line.
   */
  #alone (bytes: number): number {
    if (this.exec.countNear(bytes) >= NEAR_RUNS) return this.exec.predictNear(bytes, undefined, NEAR_RUNS)
    if (this.runsNear(bytes) >= NEAR_RUNS) return median([...this.exec.nearValues(bytes), ...this.execShared.nearValues(bytes)])
    return this.exec.predict(bytes)
  }

  /**
   * Execution time at `bytes` beside `sharing` other requests on the machine; `alone` is #alone there. The
   * shared runs near that size once there are NEAR_RUNS of them (and MIN_SHARED shared runs in all); else,
   * when the alone runs know the size, processor sharing (alone x (1 + others)) rather than the shared line
   * through other sizes; else that line once there are MIN_SHARED shared runs, or processor sharing.
   */
  #exec (bytes: number, sharing: number, alone: number): number {
    if (sharing <= 0) return alone
    const shared = this.execShared.count >= MIN_SHARED
    if (shared && this.execShared.countNear(bytes) >= NEAR_RUNS) return this.execShared.predictNear(bytes, undefined, NEAR_RUNS)
    if (shared && this.exec.countNear(bytes) < NEAR_RUNS) return this.execShared.predict(bytes)
    return alone * (1 + sharing)
  }

  observe (o: TierObservation): void {
    const shared = (o.sharing ?? 0) > 0
    const warmGuess = this.#exec(o.bytes, o.sharing ?? 0, this.#alone(o.bytes)) + this.transfer.predict(o.bytes) + (o.linkWaitMs ?? 0)
    // A tier that says whether each run was cold (the local pool, exactly) has no unreported starts to guess at.
    const outlier = o.coldStart === undefined && this.#samples >= 5 && o.queuedAhead <= 0 && o.totalMs > OUTLIER_FACTOR * warmGuess + 50
    this.#samples++
    const cold = o.coldStart === true || outlier
    this.#coldRate += ((cold ? 1 : 0) - this.#coldRate) * 0.1
    if (cold) {
      this.#coldExcess.push(Math.max(0, o.totalMs - warmGuess))
      if (this.#coldExcess.length > COLD_WINDOW) this.#coldExcess.shift()
      // A cold run's times say how slow a start is, not how slow the work is.
      if (this.exec.count > 0) return
    }
    const exec = shared ? this.execShared : this.exec
    if (o.utilization !== undefined && (o.handlerMs !== undefined || o.queuedAhead <= 0)) {
      this.#fitRho = this.#fitRhoSeen ? this.#fitRho + (o.utilization - this.#fitRho) / 24 : o.utilization
      this.#fitRhoSeen = true
    }
    if (o.handlerMs !== undefined) {
      exec.add(o.bytes, o.handlerMs, o.atMs)
      // A run that queued, at the tier or behind other bytes on the link, says more about the queue than the wire.
      if (o.queuedAhead <= 0 && !((o.linkWaitMs ?? 0) >= 1)) this.transfer.add(o.bytes, Math.max(0, o.totalMs - o.handlerMs))
    } else if (o.queuedAhead <= 0) {
      // No handler time (the local pool): the whole time is the work; there is no network to fit.
      exec.add(o.bytes, o.totalMs, o.atMs)
    }
  }
}
