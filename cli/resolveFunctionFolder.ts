import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { IotlessError } from '../core/errors.js'

/** The repository (or installed package) root: dist/cli/ is two levels below it. */
const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url))

export interface FunctionEntry {
  /** The module to import. */
  modulePath: string
  /** The function's name when the folder gives one (package.json name, or a built-in's), else undefined. */
  name: string | undefined
}

function entryOfExports (exp: unknown): string | undefined {
  if (typeof exp === 'string') return exp
  if (typeof exp !== 'object' || exp === null || Array.isArray(exp)) return undefined
  const o = exp as Record<string, unknown>
  if ('.' in o) return entryOfExports(o['.'])
  for (const cond of ['node', 'import', 'default']) {
    const v = entryOfExports(o[cond])
    if (v !== undefined) return v
  }
  return undefined
}

function packageName (raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw === '') return undefined
  return raw.startsWith('@') ? raw.slice(raw.indexOf('/') + 1) : raw
}

/**
 * What `iotless fn serve <folder>` serves:
 * - the source folder of a built-in function (functions/text-detect in this repository): that built-in;
 * - a folder with a package.json: its `exports` (`.`, node/import/default) or `main`, which must be built;
 * - else the folder's index.js, or dist/index.js.
 * A folder with TypeScript only, or none of these, is FUNCTION_NOT_FOUND with what to do.
 */
export function resolveFunctionFolder (dir: string): FunctionEntry {
  const folder = resolve(dir)
  const builtinName = basename(folder)
  const builtinSource = join(PACKAGE_ROOT, 'functions', builtinName)
  const builtin = join(PACKAGE_ROOT, 'dist', 'functions', builtinName, 'index.js')
  if (existsSync(builtinSource) && realpathSync(builtinSource) === realpathSync(folder) && existsSync(builtin)) {
    return { modulePath: builtin, name: builtinName }
  }
  const pkgPath = join(folder, 'package.json')
  if (existsSync(pkgPath)) {
    let pkg: Record<string, unknown>
    try {
      pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as Record<string, unknown>
    } catch (err) {
      throw new IotlessError('FUNCTION_NOT_FOUND', `${pkgPath} is not JSON: ${(err as Error).message}`)
    }
    const field = entryOfExports(pkg.exports) !== undefined ? 'exports' : typeof pkg.main === 'string' ? 'main' : undefined
    const entry = field === 'exports' ? entryOfExports(pkg.exports) : field === 'main' ? pkg.main as string : undefined
    if (entry !== undefined && field !== undefined) {
      const modulePath = resolve(folder, entry)
      if (!existsSync(modulePath)) {
        throw new IotlessError('FUNCTION_NOT_FOUND', `${folder}: package.json "${field}" is ${entry}, which does not exist: build the function first (npm run build)`)
      }
      return { modulePath, name: packageName(pkg.name) }
    }
  }
  for (const candidate of ['index.js', 'index.mjs', join('dist', 'index.js')]) {
    const modulePath = join(folder, candidate)
    if (existsSync(modulePath) && statSync(modulePath).isFile()) return { modulePath, name: basename(folder) }
  }
  const ts = ['index.ts', join('src', 'index.ts')].find((f) => existsSync(join(folder, f)))
  if (ts !== undefined) {
    throw new IotlessError('FUNCTION_NOT_FOUND', `${folder} holds TypeScript (${ts}) but no compiled module: build it (tsc) and serve the build, ` +
      'or give it a package.json whose "main" names the built file')
  }
  throw new IotlessError('FUNCTION_NOT_FOUND', `${folder} is a folder with no function module: looked for package.json "exports"/"main", index.js and dist/index.js`)
}
