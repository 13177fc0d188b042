import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * `npm run build`'s last step: compiles proxy/native/acceptPending.c into dist/proxy/native/acceptPending.node
 * with the machine's C compiler ($CC, else cc) against the running Node's own headers (Node-API, so one
 * build serves every Node version on that platform). The helper is optional: where there is no compiler,
 * no headers, or no accept4 (not Linux), this says so on stderr and exits 0, and the proxy runs without it.
 */
const here = path.dirname(fileURLToPath(import.meta.url))
const out = path.join(here, 'acceptPending.node')
const source = path.resolve(here, '..', '..', '..', 'proxy', 'native', 'acceptPending.c')

function headerDir (): string | null {
  const dirs = [path.resolve(path.dirname(process.execPath), '..', 'include', 'node'), '/usr/include/node', '/usr/local/include/node']
  return dirs.find((d) => fs.existsSync(path.join(d, 'node_api.h'))) ?? null
}

function skip (why: string): never {
  fs.rmSync(out, { force: true })
  process.stderr.write(`build: the proxy's native accept helper was not built (${why}); the proxy will accept one connection per event-loop turn\n`)
  process.exit(0)
}

if (process.env.IOTLESS_SKIP_NATIVE === '1') skip('IOTLESS_SKIP_NATIVE=1')
if (process.platform !== 'linux') skip(`accept4 is Linux-only, this is ${process.platform}`)
if (!fs.existsSync(source)) skip(`${source} is missing`)
const include = headerDir()
if (include === null) skip('no node_api.h found beside the node binary, in /usr/include/node or /usr/local/include/node')
const cc = process.env.CC ?? 'cc'
const tmp = `${out}.${process.pid}.tmp`
const r = spawnSync(cc, ['-O2', '-Wall', '-Wextra', '-Werror', '-shared', '-fPIC', '-I', include, '-o', tmp, source], { encoding: 'utf8' })
if (r.error !== undefined) skip(`${cc}: ${r.error.message}`)
if (r.status !== 0) {
  fs.rmSync(tmp, { force: true })
  skip(`${cc} exited ${String(r.status)}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`)
}
fs.renameSync(tmp, out)
