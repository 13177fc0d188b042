import { fork, type ChildProcess } from 'node:child_process'
import type { Clock, TimerHandle } from '../../core/clock.js'
import { SPARE_ARG } from '../../functions/sdk/instanceMessages.js'
import { INSTANCE_MAIN } from './instance.js'

export interface SpareInstancesOptions {
  /** Spare processes kept booted; 0: none (every instance start forks a new process). */
  count: number
  /** The environment every spare gets; a pool whose instances need another one forks as before. */
  env: NodeJS.ProcessEnv
  clock: Clock
  /** Wait this long after a spare is taken before forking its replacement, so the boot does not compete with the start it served. */
  refillDelayMs?: number
  /** For tests: how a spare is forked. */
  forkSpare?: (env: NodeJS.ProcessEnv) => ChildProcess
}

/** Equal environments give equal keys (order of the variables does not matter). */
export function envKey (env: NodeJS.ProcessEnv): string {
  return JSON.stringify(Object.keys(env).sort().map((k) => [k, env[k]]))
}

function defaultFork (env: NodeJS.ProcessEnv): ChildProcess {
  return fork(INSTANCE_MAIN, [SPARE_ARG], { env, execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' })
}

/**
 * Generic instance processes forked ahead of need, shared by the pools of one box: node has booted and the SDK is
 * loaded, so starting an instance costs importing the function's module and listening, not a process start
 * (docs/capacity.md, "Re-provisioning"). A pool takes one when its instances' environment matches and they have no
 * memory bound (that bound is a node flag fixed at fork); the spare is replaced after `refillDelayMs`. A spare that
 * exits on its own is replaced once a second later at most; all are killed on close.
 */
export class SpareInstances {
  readonly count: number
  readonly key: string
  readonly #env: NodeJS.ProcessEnv
  readonly #clock: Clock
  readonly #refillDelayMs: number
  readonly #fork: (env: NodeJS.ProcessEnv) => ChildProcess
  readonly #spares: ChildProcess[] = []
  readonly #onExit = new Map<ChildProcess, () => void>()
  #refill: TimerHandle | undefined
  #closed = false
  taken = 0
  forked = 0

  constructor (o: SpareInstancesOptions) {
    this.count = Math.max(0, Math.floor(o.count))
    this.#env = o.env
    this.key = envKey(o.env)
    this.#clock = o.clock
    this.#refillDelayMs = o.refillDelayMs ?? 100
    this.#fork = o.forkSpare ?? defaultFork
    this.#fill()
  }

  /** Spares standing now. */
  get available (): number { return this.#spares.length }

  /** A booted spare for instances with environment key `key`, taken out of the set; undefined when none matches. */
  take (key: string): ChildProcess | undefined {
    if (this.#closed || key !== this.key) return undefined
    let child: ChildProcess | undefined
    while (child === undefined && this.#spares.length > 0) {
      const c = this.#spares.shift() as ChildProcess
      this.#forget(c)
      if (c.exitCode === null && c.signalCode === null && c.connected) child = c
    }
    this.#scheduleFill(this.#refillDelayMs)
    if (child !== undefined) this.taken++
    return child
  }

  #forget (c: ChildProcess): void {
    const onExit = this.#onExit.get(c)
    if (onExit !== undefined) c.off('exit', onExit)
    this.#onExit.delete(c)
  }

  #scheduleFill (delayMs: number): void {
    if (this.#closed || this.#refill !== undefined || this.#spares.length >= this.count) return
    this.#refill = this.#clock.setTimeout(() => { this.#refill = undefined; this.#fill() }, delayMs)
  }

  #fill (): void {
    while (!this.#closed && this.#spares.length < this.count) {
      const c = this.#fork(this.#env)
      this.forked++
      const onExit = (): void => {
        const i = this.#spares.indexOf(c)
        if (i >= 0) this.#spares.splice(i, 1)
        this.#onExit.delete(c)
        // Replaced, but not in a loop if spares die at once (a broken install): at most one a second.
        this.#scheduleFill(1000)
      }
      this.#onExit.set(c, onExit)
      c.once('exit', onExit)
      this.#spares.push(c)
    }
  }

  /** Kills the spares (taken ones belong to their pools now). */
  close (): void {
    this.#closed = true
    this.#clock.clearTimeout(this.#refill)
    this.#refill = undefined
    for (const c of this.#spares.splice(0)) {
      this.#forget(c)
      c.kill('SIGKILL')
    }
  }
}
