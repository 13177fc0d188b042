/**
 * `npm run test:unit`: every test file not listed in test/integrationTests.ts, each in its own plain node
 * process (tap's runner costs seconds per file here; a tap test file runs as a script and exits non-zero when
 * it fails), as many at once as there are cores, with test/helpers/noIo.js preloaded. Prints each failing
 * file's TAP output, then one summary line; exits 1 if any file failed.
 */
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { unitTests } from './integrationTests.js'

const distTest = fileURLToPath(new URL('.', import.meta.url))
const noIo = join(distTest, 'helpers', 'noIo.js')

function listTests (dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.name === 'fixtures' || e.name === 'node_modules') continue
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...listTests(p))
    else if (e.name.endsWith('.test.js')) out.push(relative(distTest, p).replace(/\.js$/, '.ts'))
  }
  return out
}

function runOne (rel: string): Promise<{ rel: string; code: number | null; out: string; ms: number }> {
  const started = performance.now()
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--enable-source-maps', `--import=${noIo}`, join(distTest, rel.replace(/\.ts$/, '.js'))], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (c: Buffer) => { out += c.toString() })
    child.stderr.on('data', (c: Buffer) => { out += c.toString() })
    child.once('close', (code) => resolve({ rel, code, out, ms: performance.now() - started }))
  })
}

const started = performance.now()
const files = unitTests(listTests(distTest))
const queue = [...files]
const failed: string[] = []
await Promise.all(Array.from({ length: Math.max(1, availableParallelism()) }, async () => {
  for (let rel = queue.shift(); rel !== undefined; rel = queue.shift()) {
    const r = await runOne(rel)
    if (r.code !== 0) {
      failed.push(rel)
      process.stdout.write(`\n# FAILED test/${rel} (exit ${String(r.code)})\n${r.out}\n`)
    } else {
      process.stdout.write(`ok - test/${rel} # ${r.ms.toFixed(0)} ms\n`)
    }
  }
}))
const seconds = ((performance.now() - started) / 1000).toFixed(1)
process.stdout.write(`# unit: ${files.length} files, ${files.length - failed.length} passed, ${failed.length} failed, in ${seconds} s\n`)
if (failed.length > 0) process.exitCode = 1
