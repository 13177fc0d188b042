import { pathToFileURL } from 'node:url'
import type { Command } from './command.js'

/**
 * Runs `command` when `moduleUrl` (the caller's import.meta.url) is the script node was started with, so that
 * `node dist/cli/fn.js serve ...` and `node dist/cli/proxy.js` run one command without loading the others
 * (the lean entrypoints the images use). Does nothing when the module is imported. `--help` prints the usage.
 */
export async function runAsEntrypoint (moduleUrl: string, command: Command): Promise<void> {
  if (process.argv[1] === undefined || moduleUrl !== pathToFileURL(process.argv[1]).href) return
  const { reportError } = await import('./reportError.js')
  const argv = process.argv.slice(2)
  if (argv.includes('--help') || argv.includes('-h')) { process.stdout.write(command.usage + '\n'); return }
  try {
    process.exitCode = await command.run(argv)
  } catch (err) {
    process.exitCode = reportError(err)
  }
}
