import type { BoxAllocator } from '../capacity/boxAllocator.js'
import type { FunctionPlanner } from '../capacity/functionPlanner.js'
import type { GuaranteeGate } from '../capacity/guaranteeGate.js'
import type { PoolView } from '../capacity/scaler.js'
import type { SharedStarts } from './sharedStarts.js'
import type { StartGate } from '../capacity/startGate.js'
import type { SimClock } from './simClock.js'

interface SimInstance {
  inFlight: number
  idleTimer: { id: number } | undefined
  share: number
  /** Set when the allocation asked it to go: it takes no new request and stops when idle. */
  draining: boolean
  /** When it last finished a request (or became ready). */
  idleSince: number
  /** When its cold start ended. */
  readyAt: number
  /** Its record in spawnLog (when the run keeps one). */
  log: SpawnRecord | undefined
}

/** One instance's life, for diagnosis (SimPoolOptions.spawnLog): when it started, whether any was ready, what it served. */
export interface SpawnRecord {
  spawnedAt: number
  /** No instance of the function was ready (serving) when it started. */
  noReady: boolean
  /** The function had completed a request (its service time was measured) when it started. */
  serviceKnown: boolean
  /** Requests waiting, and instances of the function starting, when it started. */
  waitingAtSpawn: number
  startingAtSpawn: number
  /** When its cold start ended (NaN: it never became ready). */
  readyAt: number
  /** When it stopped (NaN: still standing at the end of the run). */
  endAt: number
  /** Requests it served, and of those the ones within the wait objective. */
  served: number
  servedWithin: number
}

/**
 * Cold starts share the box's CPUs: an instance started while k others are starting takes
 * coldStartMs x max(1, (k + 1) / cpus). Spawning node processes is CPU-bound, and on a 2-core edge box ten
 * concurrent starts take several times one (measured: liveReplay.ts measureColdStart).
 */
export interface StartCounter { starting: number; cpus: number }

export interface SimPoolOptions {
  planner: FunctionPlanner
  box: BoxAllocator | undefined
  gate: GuaranteeGate | undefined
  clock: SimClock
  keepAliveMs: number
  /** Spawn + init time of an instance started alone. */
  coldStartMs: number
  /** Starts under way on the whole box, shared by the pools, for the cold-start contention model. */
  starts: StartCounter
  /** When given, starts share the CPUs as processes do (sharedStarts.ts) instead of the StartCounter's fixed lengths. */
  sharedStarts?: SharedStarts | undefined
  /**
   * The box's start gate (capacity/startGate.ts), shared by the pools: a start beyond its limit waits its turn (FIFO)
   * before its cold start begins; while it waits it has no process, so it counts no instance-seconds, but the
   * planner sees it as starting. Absent: no gate.
   */
  startGate?: StartGate | undefined
  /** SLO wait objective used for attainment (ms). */
  waitMs: number
  /** When given, every instance started is recorded here (diagnosis only: changes no decision). */
  spawnLog?: SpawnRecord[] | undefined
}

/** What happened to each request, indexed as the function's arrivals. */
export interface SimOutcome {
  /** Time from arrival to the end of service, ms (NaN: refused). */
  latencyMs: Float32Array
  /** Time from arrival to the start of service, ms (NaN: refused). */
  waitMs: Float32Array
  /** 1 when the request was within the function's guarantee. */
  guaranteed: Uint8Array
  /** 1 when the instance that served the request became ready after the request arrived (it waited on a cold start). */
  cold: Uint8Array
}

/**
 * One function's pool in simulated time, step for step what functionPool.ts does: a breaker of
 * ready x concurrency slots with a FIFO queue of 10 x concurrency x maxScale (refused past that), the fullest
 * instance with a free slot takes a request, instances start up to the planner's target and become ready after
 * coldStartMs, an idle instance goes when its keep-alive ends unless the planner keeps it, and scalers that decide
 * on a period tick on the same period. A deflated instance (cpu share s < 1) serves in duration / s (CPU-bound).
 */
export class SimPool {
  readonly planner: FunctionPlanner
  readonly #o: SimPoolOptions
  readonly #ready: SimInstance[] = []
  #starting = 0
  /** Of #starting, those waiting at the start gate (no process yet). */
  #gated = 0
  #inFlight = 0
  /** When the function's first instance became ready (Infinity: none yet); requests before it are start-up ones. */
  #firstReadyAt = Infinity
  /** Requests served to the end (the service time is known after the first). */
  #completed = 0
  readonly #queue: number[] = []
  #qHead = 0
  readonly #queueDepth: number
  readonly #totalSlots: number
  #tickTimer: { id: number } | undefined
  #lastActiveAt = -Infinity
  readonly #durations: Float32Array
  readonly #arrivals: Float64Array
  readonly out: SimOutcome
  // Accounting.
  spawns = 0
  rejected = 0
  #instanceMs = 0
  #cpuMs = 0
  #accAt = 0
  #share = 1
  maxInstances = 0
  deflations = 0
  terminations = 0

  constructor (o: SimPoolOptions, arrivals: Float64Array, durations: Float32Array) {
    this.#o = o
    this.planner = o.planner
    this.#arrivals = arrivals
    this.#durations = durations
    const { concurrency, maxScale } = o.planner
    this.#queueDepth = 10 * concurrency * maxScale
    this.#totalSlots = concurrency * maxScale + this.#queueDepth
    const n = arrivals.length
    this.out = { latencyMs: new Float32Array(n).fill(NaN), waitMs: new Float32Array(n).fill(NaN), guaranteed: new Uint8Array(n), cold: new Uint8Array(n) }
    o.planner.onAllocation = () => { this.#enforce() }
  }

  get view (): PoolView {
    return { inFlight: this.#inFlight, waiting: this.#queue.length - this.#qHead, ready: this.#ready.length, starting: this.#starting }
  }

  get instances (): number { return this.#ready.length + this.#starting }

  /** Instance-seconds and CPU-seconds so far (instances x time, CPU share x time). */
  totals (): { instanceSeconds: number; cpuSeconds: number } {
    this.#account()
    return { instanceSeconds: this.#instanceMs / 1000, cpuSeconds: this.#cpuMs / 1000 }
  }

  #account (): void {
    const now = this.#o.clock.now()
    const dt = now - this.#accAt
    if (dt > 0) {
      const n = this.#ready.length + this.#starting - this.#gated
      this.#instanceMs += n * dt
      this.#cpuMs += n * this.#share * dt
    }
    this.#accAt = now
  }

  /** Request i of the function arrives now. */
  arrive (i: number): void {
    const now = this.#o.clock.now()
    this.#account()
    this.#lastActiveAt = now
    const p = this.planner
    p.scaler.onArrival(now)
    if (this.#o.gate?.admit(now) === true) this.out.guaranteed[i] = 1
    this.#ensureTicking()
    const waiting = this.#queue.length - this.#qHead
    if (this.#inFlight < this.#ready.length * p.concurrency && waiting === 0 && this.#serve(i)) {
      // served at once
    } else if (this.#inFlight + waiting >= this.#totalSlots) {
      this.rejected++
      p.scaler.onComplete(now, undefined)
    } else {
      this.#queue.push(i)
    }
    this.#scale()
  }

  /** Starts request i on the fullest instance with a free slot; false when none has one (all draining). */
  #serve (i: number): boolean {
    const inst = this.#pick()
    if (inst === undefined) return false
    const clock = this.#o.clock
    const now = clock.now()
    if (inst.idleTimer !== undefined) { clock.clearTimeout(inst.idleTimer); inst.idleTimer = undefined }
    inst.inFlight++
    this.#inFlight++
    const service = (this.#durations[i] ?? 0) / inst.share
    const arrived = this.#arrivals[i] ?? now
    if (inst.log !== undefined) { inst.log.served++; if (now - arrived <= this.#o.waitMs) inst.log.servedWithin++ }
    this.out.waitMs[i] = now - arrived
    this.planner.scaler.onWait?.(now, now - arrived, !(this.#firstReadyAt <= arrived))
    if (inst.readyAt > arrived) this.out.cold[i] = 1
    this.out.latencyMs[i] = now + service - arrived
    clock.setTimeout(() => { this.#done(inst, service) }, service)
    return true
  }

  #pick (): SimInstance | undefined {
    let best: SimInstance | undefined
    const c = this.planner.concurrency
    for (const inst of this.#ready) {
      if (inst.draining || inst.inFlight >= c) continue
      if (best === undefined || inst.inFlight > best.inFlight) best = inst
    }
    return best
  }

  #done (inst: SimInstance, service: number): void {
    const now = this.#o.clock.now()
    this.#account()
    this.#completed++
    this.#lastActiveAt = now
    inst.inFlight--
    this.#inFlight--
    inst.idleSince = now
    this.planner.scaler.onComplete(now, service * inst.share)
    if (inst.draining && inst.inFlight === 0) {
      this.#remove(inst)
    }
    this.#drain()
    if (inst.inFlight === 0 && !inst.draining && this.#ready.includes(inst)) this.#armKeepAlive(inst)
    this.#reportWant()
  }

  #drain (): void {
    while (this.#qHead < this.#queue.length && this.#inFlight < this.#servingSlots()) {
      const i = this.#queue[this.#qHead] ?? 0
      if (!this.#serve(i)) break
      this.#qHead++
    }
    if (this.#qHead > 1024 && this.#qHead * 2 > this.#queue.length) { this.#queue.splice(0, this.#qHead); this.#qHead = 0 }
  }

  #servingSlots (): number {
    let n = 0
    for (const inst of this.#ready) if (!inst.draining) n++
    return n * this.planner.concurrency
  }

  #scale (): void {
    const v = this.view
    const target = this.planner.target(v)
    for (let have = this.#ready.length + this.#starting; have < target; have++) this.#spawn()
    this.#reportWant()
  }

  #reportWant (): void {
    this.#o.box?.want(this.planner, this.planner.wanted(this.view))
  }

  #spawn (): void {
    this.#account()
    this.#starting++
    this.spawns++
    const n = this.#ready.length + this.#starting
    if (n > this.maxInstances) this.maxInstances = n
    const starts = this.#o.starts
    const gate = this.#o.startGate
    let log: SpawnRecord | undefined
    if (this.#o.spawnLog !== undefined) {
      const now = this.#o.clock.now()
      log = { spawnedAt: now, noReady: this.#servingSlots() === 0, serviceKnown: this.#completed > 0, waitingAtSpawn: this.#queue.length - this.#qHead, startingAtSpawn: this.#starting - 1, readyAt: NaN, endAt: NaN, served: 0, servedWithin: 0 }
      this.#o.spawnLog.push(log)
    }
    const ready = (): void => {
      this.#account()
      starts.starting--
      this.#starting--
      if (log !== undefined) log.readyAt = this.#o.clock.now()
      const inst: SimInstance = { inFlight: 0, idleTimer: undefined, share: 1, draining: false, idleSince: this.#o.clock.now(), readyAt: this.#o.clock.now(), log }
      if (this.#firstReadyAt === Infinity) this.#firstReadyAt = inst.readyAt
      this.#ready.push(inst)
      gate?.leave()
      this.#applyShare()
      this.#drain()
      if (inst.inFlight === 0) this.#armKeepAlive(inst)
    }
    const begin = (): void => {
      const coldMs = this.#o.coldStartMs * Math.max(1, (starts.starting + 1) / starts.cpus)
      starts.starting++
      if (this.#o.sharedStarts !== undefined) this.#o.sharedStarts.start(this.#o.coldStartMs, ready)
      else this.#o.clock.setTimeout(ready, coldMs)
    }
    if (gate === undefined) { begin(); return }
    this.#gated++
    // A guaranteed function's starts go ahead of the others' (startGate.ts `urgent`), as in the live pool.
    gate.enter(() => {
      this.#account()
      this.#gated--
      begin()
    }, this.#o.gate !== undefined)
  }

  #armKeepAlive (inst: SimInstance): void {
    const clock = this.#o.clock
    if (inst.idleTimer !== undefined) clock.clearTimeout(inst.idleTimer)
    inst.idleTimer = clock.setTimeout(() => {
      inst.idleTimer = undefined
      if (this.#ready.length <= this.planner.keep()) return
      if (inst.inFlight === 0) this.#remove(inst)
    }, this.#o.keepAliveMs)
  }

  #remove (inst: SimInstance): void {
    const i = this.#ready.indexOf(inst)
    if (i < 0) return
    this.#account()
    this.#ready.splice(i, 1)
    if (inst.log !== undefined) inst.log.endAt = this.#o.clock.now()
    if (inst.idleTimer !== undefined) { this.#o.clock.clearTimeout(inst.idleTimer); inst.idleTimer = undefined }
    this.#applyShare()
    this.#scale()
  }

  /** Stops idle instances above keep() idle for at least `idleMs` (scalers that reap on their tick). */
  #reapIdle (idleMs: number): void {
    let excess = this.#ready.length - this.planner.keep()
    const now = this.#o.clock.now()
    for (const inst of [...this.#ready]) {
      if (excess <= 0) break
      if (inst.inFlight === 0 && !inst.draining && now - inst.idleSince >= idleMs) { this.#remove(inst); excess-- }
    }
  }

  /** The allocation changed: deflate to it, stop what it cannot hold (idle first, busy ones when they finish), or grow. */
  #enforce (): void {
    this.#account()
    const max = this.planner.maxInstances()
    let excess = this.#ready.length + this.#starting - max
    if (excess > 0) {
      for (const inst of [...this.#ready]) {
        if (excess <= 0) break
        if (inst.inFlight === 0 && !inst.draining) { this.#ready.splice(this.#ready.indexOf(inst), 1); if (inst.log !== undefined) inst.log.endAt = this.#o.clock.now(); if (inst.idleTimer !== undefined) this.#o.clock.clearTimeout(inst.idleTimer); excess--; this.terminations++ }
      }
      for (const inst of this.#ready) {
        if (excess <= 0) break
        if (!inst.draining) { inst.draining = true; excess--; this.terminations++ }
      }
    }
    this.#applyShare()
    this.#scale()
  }

  #applyShare (): void {
    let live = 0
    for (const inst of this.#ready) if (!inst.draining) live++
    const share = this.planner.cpuShare(live + this.#starting)
    if (share < 1 && this.#share === 1) this.deflations++
    this.#share = share
    for (const inst of this.#ready) inst.share = share
  }

  #ensureTicking (): void {
    const period = this.planner.scaler.periodMs
    if (period === undefined || this.#tickTimer !== undefined) return
    const clock = this.#o.clock
    const now = clock.now()
    // Ticks fall on the period's grid, as a timer started with the pool would.
    const next = (Math.floor(now / period) + 1) * period
    this.#tickTimer = clock.setTimeout(() => { this.#tick() }, next - now)
  }

  /** Idle long enough that a tick changes nothing: no instances, no requests, the scaler's windows empty. */
  #quiet (now: number): boolean {
    return this.#ready.length + this.#starting === 0 && this.#inFlight === 0 && this.#queue.length === this.#qHead &&
      this.planner.keep() === 0 && now - this.#lastActiveAt > 180_000
  }

  #tick (): void {
    this.#tickTimer = undefined
    const clock = this.#o.clock
    const now = clock.now()
    const p = this.planner
    p.scaler.tick(now, this.view)
    this.#scale()
    if (p.scaler.reapIdleMs !== undefined) this.#reapIdle(p.scaler.reapIdleMs)
    if (this.#quiet(now)) return
    const period = p.scaler.periodMs ?? 1000
    this.#tickTimer = clock.setTimeout(() => { this.#tick() }, period)
  }

  /** Starts what the planner wants before any request (fixed pools, guarantees, floors). */
  start (): void {
    this.#scale()
    this.#ensureTicking()
  }
}
