/**
 * Child process of checkModuleLoads (moduleCheck.ts): imports one function module, as an instance would before
 * init, checks its default export, prints one JSON line ({ ok } or { ok: false, message }) and exits. It runs in
 * its own process so a module's import-time work (an ML runtime, a timer, a server) never touches the stack's
 * process, and so the exit ends whatever the import left running.
 */
import { spawnSync } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { isDefinedFunction } from '../../functions/sdk/defineFunction.js'

/** Node's dynamic import reports a syntax error without its line; `node --check` names it (for the file itself). */
function syntaxLine (path: string): string | undefined {
  const r = spawnSync(process.execPath, ['--check', path], { encoding: 'utf8', timeout: 10_000 })
  const m = /^(.+?:\d+)\n/.exec(r.stderr ?? '')
  return m?.[1]
}

async function main (): Promise<void> {
  const path = process.argv[2] ?? ''
  let result: { ok: true } | { ok: false; message: string }
  try {
    const mod = await import(pathToFileURL(path).href) as { default?: unknown }
    result = isDefinedFunction(mod.default)
      ? { ok: true }
      : { ok: false, message: mod.default === undefined ? 'has no default export: it must `export default defineFunction({ handle })`' : 'its default export was not made by defineFunction({ handle })' }
  } catch (err) {
    const e = err as Error & { code?: string }
    const where = e instanceof SyntaxError ? syntaxLine(path) : undefined
    result = { ok: false, message: `does not load: ${e.name === 'Error' ? '' : `${e.name}: `}${e.message}${where === undefined ? '' : ` (${where})`}` }
  }
  process.stdout.write(JSON.stringify(result) + '\n', () => process.exit(0))
}

void main()
