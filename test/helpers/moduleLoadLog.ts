import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'

export interface ModuleLoadLog {
  /** Give to a child process as `--import <register>`: it records the URL of every module the child resolves. */
  register: string
  /** The folder the hook lives in (removed at teardown), for a test's own files. */
  dir: string
  /** The URLs resolved so far, in order. */
  loaded: () => string[]
}

/** A module-resolution hook in a fresh temporary folder, removed when the test ends. */
export function moduleLoadLog (t: { teardown: (fn: () => void) => void }, prefix: string): ModuleLoadLog {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }))
  const log = path.join(dir, 'loaded.txt')
  const hooks = path.join(dir, 'hooks.mjs')
  fs.writeFileSync(hooks, `import fs from 'node:fs'
export async function resolve (spec, ctx, next) {
  const r = await next(spec, ctx)
  fs.appendFileSync(${JSON.stringify(log)}, r.url + '\\n')
  return r
}
`)
  const register = path.join(dir, 'register.mjs')
  fs.writeFileSync(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`)
  return {
    register: pathToFileURL(register).href,
    dir,
    loaded: () => fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter((l) => l !== '') : []
  }
}
