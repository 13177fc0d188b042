import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const CHECK_MAIN = fileURLToPath(new URL('./moduleCheckMain.js', import.meta.url))

export interface ModuleToCheck {
  /** The function's name under `functions`. */
  name: string
  /** Absolute path of its module. */
  modulePath: string
  /** The environment its instances get (import-time code may read it). */
  env: NodeJS.ProcessEnv
}

export interface ModuleProblem { name: string; modulePath: string; message: string }

/** Imports one module in a child process; undefined when it loads and exports a defineFunction definition. */
export function checkModuleLoad (m: ModuleToCheck, timeoutMs: number): Promise<ModuleProblem | undefined> {
  return new Promise((resolve) => {
    // execArgv is inherited so loaders given to node (a test runner's) reach the child too, as for instances.
    const child = spawn(process.execPath, [...process.execArgv, CHECK_MAIN, m.modulePath], { env: m.env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.setEncoding('utf8').on('data', (c: string) => { out += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { if (err.length < 4096) err += c })
    const timer = setTimeout(() => { child.kill('SIGKILL') }, timeoutMs)
    const problem = (message: string): ModuleProblem => ({ name: m.name, modulePath: m.modulePath, message })
    child.once('error', (e) => { clearTimeout(timer); resolve(problem(`cannot start the check process: ${e.message}`)) })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line !== undefined) {
        try {
          const r = JSON.parse(line) as { ok: boolean; message?: string }
          resolve(r.ok ? undefined : problem(r.message ?? 'does not load'))
          return
        } catch { /* fall through: report how it ended */ }
      }
      const last = err.trim().split('\n').filter((l) => !/^\s+at /.test(l)).slice(-1)[0]
      resolve(problem(signal === 'SIGKILL'
        ? `did not finish loading within ${timeoutMs} ms (a top-level await that never settles?)`
        : `its import ended the process (code ${code ?? 'none'}, signal ${signal ?? 'none'})${last === undefined ? '' : `: ${last}`}`))
    })
  })
}

/**
 * Imports every function module once, in parallel, each in its own short-lived process, so a syntax error or a
 * missing defineFunction export fails start-up instead of the first message. init (model loading) is not run:
 * that stays lazy, in the instances.
 */
export async function checkModuleLoads (modules: readonly ModuleToCheck[], timeoutMs = 30_000): Promise<ModuleProblem[]> {
  const results = await Promise.all(modules.map((m) => checkModuleLoad(m, timeoutMs)))
  return results.filter((r): r is ModuleProblem => r !== undefined)
}
