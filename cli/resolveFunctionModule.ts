import { existsSync, statSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isIotlessError } from '../core/errors.js'
import { resolveFunctionFolder } from './resolveFunctionFolder.js'

const BUILTIN = /^[a-z0-9][a-z0-9-]*$/

function isFolder (path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory()
}

/**
 * `temperature-alert` names a built-in example (dist/functions/<name>/index.js); a path (./x.js, /x.js)
 * is resolved against the config file's folder. A path to a folder serves what `iotless fn serve <folder>`
 * would: its package.json `exports`/`main`, else index.js or dist/index.js (FUNCTION_NOT_FOUND when none).
 */
export function resolveFunctionModule (module: string, baseDir: string): string {
  const path = functionPath(module, baseDir)
  return isFolder(path) ? resolveFunctionFolder(path).modulePath : path
}

/** The file or folder `module` names, before a folder is resolved to its module. */
export function functionPath (module: string, baseDir: string): string {
  if (BUILTIN.test(module)) return fileURLToPath(new URL(`../functions/${module}/index.js`, import.meta.url))
  return isAbsolute(module) ? module : resolve(baseDir, module)
}

export function checkFunctionModules (functions: Readonly<Record<string, { module: string }>>, baseDir: string): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = []
  for (const [name, fn] of Object.entries(functions)) {
    let path: string
    try {
      path = resolveFunctionModule(fn.module, baseDir)
    } catch (err) {
      if (!isIotlessError(err, 'FUNCTION_NOT_FOUND')) throw err
      problems.push({ path: ['functions', name, 'module'], message: err.message })
      continue
    }
    if (!existsSync(path)) {
      problems.push({
        path: ['functions', name, 'module'],
        message: BUILTIN.test(fn.module)
          ? `no built-in function "${fn.module}" (looked for ${path}); give a path such as ./my-fn.js for your own`
          : `module file ${path} does not exist`
      })
    }
  }
  return problems
}
