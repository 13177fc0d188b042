#!/usr/bin/env node
import { commands } from './commands.js'
import { IotlessError } from '../core/errors.js'
import { reportError, reportUncaught } from './reportError.js'

function mainUsage (): string {
  const names = Object.keys(commands)
  const width = Math.max(...names.map((n) => n.length))
  return [
    'Usage: iotless <command> [options]',
    '',
    'Commands:',
    ...names.map((n) => `  ${n.padEnd(width)}  ${commands[n]?.summary ?? ''}`),
    '',
    'Run `iotless <command> --help` for the options of one command.'
  ].join('\n')
}

async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainUsage() + '\n')
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v') {
    const { readFileSync } = await import('node:fs')
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    process.stdout.write(pkg.version + '\n')
    return 0
  }
  const entry = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (entry === undefined) {
    throw new IotlessError('CLI_USAGE', `unknown command "${name}"\n\n${mainUsage()}`)
  }
  // Only the chosen command's module (and what it imports) is loaded.
  const command = await entry.load()
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(command.usage + '\n')
    return 0
  }
  return command.run(rest)
}

reportUncaught()
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code },
  (err: unknown) => { process.exitCode = reportError(err) }
)
