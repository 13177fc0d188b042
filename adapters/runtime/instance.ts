import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import type { InstanceMessage, InstanceSpec, LoadMessage, StartTimings } from '../../functions/sdk/instanceMessages.js'
import { guardMemory, type GuardOptions, type MemoryGuard } from './memoryLimit.js'

export const INSTANCE_MAIN = fileURLToPath(new URL('../../functions/sdk/instanceMain.js', import.meta.url))

export type InstanceState = 'starting' | 'ready' | 'stopping' | 'exited'

export interface InstanceExit {
  code: number | null
  signal: NodeJS.Signals | null
  /** The instance went over its memory limit and was killed for it (cgroup OOM kill, RSS watchdog, V8 heap limit). */
  memoryExceeded: boolean
}

export interface InstanceLimits {
  /** Memory bound of the process in MB; 0 or absent: none. */
  memoryMb?: number
  /** Where the bound is enforced (memoryLimit.ts); tests force the watchdog with cgroupRoot: null. */
  guard?: GuardOptions
}

/** What V8 prints before it aborts at --max-old-space-size. */
const V8_HEAP_OOM = /JavaScript heap out of memory|Reached heap limit/

let nextInstanceId = 1

/** One child process serving one function on loopback, and the keep-alive HTTP pool that reaches it. */
export class Instance {
  readonly id = nextInstanceId++
  readonly child: ChildProcess
  readonly exited: Promise<InstanceExit>
  /** How the memory bound is enforced, when there is one. */
  readonly memoryGuard: MemoryGuard | undefined
  state: InstanceState = 'starting'
  port = 0
  http: Pool | undefined
  inFlight = 0
  lastUsedAt = 0
  /** The clock handle of the keep-alive timer while idle. */
  idleTimer: { id: number } | undefined
  /** Epoch ms (performance.timeOrigin + now) this instance was asked to start: forked, or a spare told to load. */
  readonly startedAt = performance.timeOrigin + performance.now()
  /** True when it began as a spare process (spareInstances.ts), so node had booted before it was needed. */
  readonly fromSpare: boolean
  /** Where its start went, as reported by the instance, with the time its ready message arrived. */
  timings: (StartTimings & { readyAt: number }) | undefined

  /**
   * `spare`: a spare process (forked with SPARE_ARG, same env and execArgv as this instance would get, no memory
   * bound) that becomes this instance when sent the spec; absent: a new process is forked.
   */
  constructor (spec: InstanceSpec, env: NodeJS.ProcessEnv, limits: InstanceLimits = {}, spare?: ChildProcess) {
    const memoryMb = limits.memoryMb ?? 0
    this.fromSpare = spare !== undefined && memoryMb === 0
    if (spare !== undefined && memoryMb === 0) {
      this.child = spare
      const load: LoadMessage = { type: 'load', spec }
      spare.send(load)
    } else {
      // execArgv is inherited so loaders given to node (e.g. under a test runner) reach the child too. V8's old
      // space gets the same bound as the process, so a JS-heap leak stops at it even where the OS bound is coarse.
      this.child = fork(INSTANCE_MAIN, [JSON.stringify(spec)], {
        env,
        execArgv: memoryMb > 0 ? [...process.execArgv, `--max-old-space-size=${memoryMb}`] : process.execArgv,
        // stderr is read (and passed on) only to notice V8's heap-limit abort.
        stdio: ['ignore', 'inherit', memoryMb > 0 ? 'pipe' : 'inherit', 'ipc'],
        serialization: 'json'
      })
    }
    let heapOom = false
    if (memoryMb > 0 && this.child.stderr !== null) {
      this.child.stderr.on('data', (chunk: Buffer) => {
        if (!heapOom && V8_HEAP_OOM.test(chunk.toString('latin1'))) heapOom = true
        process.stderr.write(chunk)
      })
    }
    this.memoryGuard = memoryMb > 0 && this.child.pid !== undefined
      ? guardMemory(`instance-${this.id}`, this.child.pid, memoryMb, () => this.child.kill('SIGKILL'), limits.guard)
      : undefined
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.state = 'exited'
        const guard = this.memoryGuard
        guard?.release()
        // V8's last words may still be in the pipe: wait for its end, briefly (a grandchild may hold it open).
        const stderr = this.child.stderr
        const drained = stderr === null || stderr.readableEnded
          ? Promise.resolve()
          : new Promise<void>((done) => { const t = setTimeout(done, 200); stderr.once('end', () => { clearTimeout(t); done() }) })
        void drained.then(() => resolve({ code, signal, memoryExceeded: heapOom || guard?.exceeded() === true }))
      })
    })
  }

  /** Resolves with the instance's port once init has run, or rejects with what the instance reported. */
  whenReady (): Promise<number> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: InstanceMessage): void => {
        if (msg.type === 'ready') {
          cleanup()
          if (msg.timings !== undefined) this.timings = { ...msg.timings, readyAt: performance.timeOrigin + performance.now() }
          resolve(msg.port)
        } else if (msg.type === 'fatal') {
          cleanup()
          reject(Object.assign(new Error(msg.message), { code: msg.code }))
        }
      }
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        cleanup()
        reject(Object.assign(new Error(`instance exited before it was ready (code ${code ?? 'none'}, signal ${signal ?? 'none'})`), { code: 'FUNCTION_INIT_FAILED' }))
      }
      const cleanup = (): void => {
        this.child.off('message', onMessage)
        this.child.off('exit', onExit)
      }
      this.child.on('message', onMessage)
      this.child.once('exit', onExit)
    })
  }

  markReady (port: number, connections: number): void {
    this.port = port
    this.state = 'ready'
    this.http = new Pool(`http://127.0.0.1:${port}`, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 600_000,
      keepAliveMaxTimeout: 600_000
    })
  }

  /** Asks the instance to stop (SIGTERM), then kills it if it has not exited within graceMs. */
  async stop (graceMs = 5000): Promise<void> {
    if (this.state === 'exited') return
    this.state = 'stopping'
    const http = this.http
    this.http = undefined
    void http?.destroy().catch(() => undefined)
    this.child.kill(graceMs === 0 ? 'SIGKILL' : 'SIGTERM')
    const timer = setTimeout(() => { this.child.kill('SIGKILL') }, graceMs)
    await this.exited
    clearTimeout(timer)
  }
}
