/**
 * `npm test`'s last step: runs tap with the arguments given, passes its output through unchanged, and
 * prints every failure again at the end (CI shows the tail of a long log, where the failed file would
 * otherwise be thousands of lines up). Exits with tap's status.
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { formatFailures, tapFailures } from './tapFailures.js'

const require = createRequire(import.meta.url)
// tap's bin (package.json "bin": dist/esm/run.mjs), found from its CommonJS entry dist/commonjs/index.js.
const tapRun = join(dirname(dirname(require.resolve('tap'))), 'esm', 'run.mjs')
const child = spawn(process.execPath, [tapRun, '--reporter=tap', ...process.argv.slice(2)], { stdio: ['inherit', 'pipe', 'inherit'] })
const lines: string[] = []
const rl = createInterface({ input: child.stdout })
rl.on('line', (line) => {
  lines.push(line)
  process.stdout.write(line + '\n')
})
const code = await new Promise<number>((resolve) => child.once('close', (c, signal) => resolve(c ?? (signal !== null ? 1 : 0))))
process.stdout.write(formatFailures(tapFailures(lines)))
process.exitCode = code
