import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Pool } from 'undici'
import type { InstanceMessage, InstanceSpec } from '../../functions/sdk/instanceMessages.js'

const INSTANCE_MAIN = fileURLToPath(new URL('../../functions/sdk/instanceMain.js', import.meta.url))

export type InstanceState = 'starting' | 'ready' | 'stopping' | 'exited'

let nextInstanceId = 1

/** One child process serving one function on loopback, and the keep-alive HTTP pool that reaches it. */
export class Instance {
  readonly id = nextInstanceId++
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  state: InstanceState = 'starting'
  port = 0
  http: Pool | undefined
  inFlight = 0
  lastUsedAt = 0
  /** The clock handle of the keep-alive timer while idle. */
  idleTimer: { id: number } | undefined

  constructor (spec: InstanceSpec, env: NodeJS.ProcessEnv) {
    // execArgv is inherited so loaders given to node (e.g. under a test runner) reach the child too.
    this.child = fork(INSTANCE_MAIN, [JSON.stringify(spec)], {
      env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json'
    })
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.state = 'exited'
        resolve({ code, signal })
      })
    })
  }

  /** Resolves with the instance's port once init has run, or rejects with what the instance reported. */
  whenReady (): Promise<number> {
    return new Promise((resolve, reject) => {
      const onMessage = (msg: InstanceMessage): void => {
        if (msg.type === 'ready') {
          cleanup()
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
