import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { basename, dirname, isAbsolute, join, resolve } from 'node:path'
import { IotlessError } from '../core/errors.js'
import { functionTemplate } from './functionTemplate.js'

/** npm's rule for a package name without a scope: lower-case, URL-safe, at most 214 characters. */
const PACKAGE_NAME = /^[a-z0-9][a-z0-9._-]*$/

/**
 * The iotless dependency of a new project: `^<version>` by default; a path to a packed tarball or a
 * checkout (as `npm install` takes) becomes `file:<absolute path>`, so the project installs it from
 * anywhere; anything else (a range, a tag, `file:...`) is written as given.
 */
export function iotlessDependencySpec (raw: string | undefined, version: string, cwd: string): string {
  if (raw === undefined || raw.trim() === '') return `^${version}`
  if (raw.startsWith('file:')) return raw
  const looksLikePath = raw.startsWith('.') || isAbsolute(raw) || raw.endsWith('.tgz')
  if (!looksLikePath) return raw
  const abs = resolve(cwd, raw)
  if (!existsSync(abs)) throw new IotlessError('CLI_USAGE', `--iotless ${raw}: no such file or folder (${abs})`)
  return `file:${abs}`
}

/** Writes a new function project into `target` (relative to `cwd`); returns the folder and the files written. */
export function scaffoldFunction (target: string, cwd: string, iotlessSpec: string): { dir: string; name: string; files: string[] } {
  const dir = resolve(cwd, target)
  const name = basename(dir)
  if (!PACKAGE_NAME.test(name) || name.length > 214) {
    throw new IotlessError('CLI_USAGE', `fn new: ${JSON.stringify(name)} cannot be an npm package name: use lower-case letters, digits, '-', '.' or '_', starting with a letter or digit`)
  }
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new IotlessError('FN_NEW_DIR_NOT_EMPTY', `fn new: ${dir} exists and is not a folder`)
    if (readdirSync(dir).length > 0) throw new IotlessError('FN_NEW_DIR_NOT_EMPTY', `fn new: ${dir} is not empty; nothing was written. Give a new folder name.`)
  }
  const files = functionTemplate({ name, iotlessSpec })
  for (const [rel, text] of Object.entries(files)) {
    const path = join(dir, rel)
    mkdirSync(dirname(path), { recursive: true })
    writeFileSync(path, text, { flag: 'wx' })
  }
  return { dir, name, files: Object.keys(files) }
}
