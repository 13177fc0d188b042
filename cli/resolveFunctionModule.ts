import { existsSync } from 'node:fs'
import { isAbsolute, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const BUILTIN = /^[a-z0-9][a-z0-9-]*$/

/**
 * `temperature-alert` names a built-in example (dist/functions/<name>/index.js); a path (./x.js, /x.js)
 * is resolved against the config file's folder.
 */
export function resolveFunctionModule (module: string, baseDir: string): string {
  if (BUILTIN.test(module)) return fileURLToPath(new URL(`../functions/${module}/index.js`, import.meta.url))
  return isAbsolute(module) ? module : resolve(baseDir, module)
}

export function checkFunctionModules (functions: Readonly<Record<string, { module: string }>>, baseDir: string): Array<{ path: PropertyKey[]; message: string }> {
  const problems: Array<{ path: PropertyKey[]; message: string }> = []
  for (const [name, fn] of Object.entries(functions)) {
    const path = resolveFunctionModule(fn.module, baseDir)
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
