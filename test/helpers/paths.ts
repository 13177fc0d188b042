import { fileURLToPath } from 'node:url'
import { resolve } from 'node:path'

/** The repository root, from dist/test/helpers/paths.js. */
export const repoRoot = resolve(fileURLToPath(new URL('../../..', import.meta.url)))
export const sharedDir = resolve(repoRoot, '..', 'shared')
export const cliPath = resolve(repoRoot, 'dist/cli/iotless.js')
/** Compiled test fixture function. */
export function fixtureFunction (name: string): string {
  return resolve(repoRoot, 'dist/test/fixtures/functions', `${name}.js`)
}
