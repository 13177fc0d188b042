import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { IotlessError } from '../core/errors.js'
import { hashPassword } from '../adapters/broker/passwordHash.js'
import { parseUsersFile, removeUserLine, setUserLine, usernameProblem } from '../adapters/broker/usersFile.js'
import type { Command } from './command.js'
import { parseOptions } from './parseOptions.js'

const usage = `Usage: iotless broker passwd FILE USER [--password-env NAME]
       iotless broker passwd --delete FILE USER

Sets USER's password in the embedded broker's users file FILE (broker.usersFile), creating the file when it does
not exist. The file keeps one "username:hash" line per user (scrypt, N=16384 r=8 p=1, random salt); no password
is ever written. The password is read from the environment variable named by --password-env, else from the first
line of standard input (e.g. printf '%s\\n' "$PW" | iotless broker passwd broker-users sensor-17).
iotless reads the file when it starts: restart it after a change.

Options:
  --password-env NAME   read the password from this environment variable
  --delete              remove USER from FILE`

async function readStdinLine (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '')
}

function readExisting (path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return ''
    throw new IotlessError('BROKER_USERS_INVALID', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

/** Replaces the file in one step, readable by its owner only (it holds hashes an attacker could try to crack offline). */
function writeUsers (path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, text, { mode: 0o600 })
  renameSync(tmp, path)
}

export const brokerCommand: Command = {
  name: 'broker',
  summary: 'broker passwd: add, change or remove a user of the embedded broker\'s users file',
  usage,
  async run (argv) {
    const { values, positionals } = parseOptions(argv, {
      'password-env': { type: 'string' },
      delete: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' }
    }, usage, true)
    if (values.help === true) { process.stdout.write(usage + '\n'); return 0 }
    const [sub, file, user, ...rest] = positionals
    if (sub !== 'passwd' || file === undefined || user === undefined || rest.length > 0) throw new IotlessError('CLI_USAGE', usage)
    const bad = usernameProblem(user)
    if (bad !== undefined) throw new IotlessError('CLI_USAGE', `USER: ${bad}`)
    const path = resolve(file)
    const text = readExisting(path)
    parseUsersFile(text, path) // refuse to rewrite a file that is already broken
    if (values.delete === true) {
      const next = removeUserLine(text, user)
      if (next === undefined) throw new IotlessError('CLI_USAGE', `${user} is not in ${path}`)
      writeUsers(path, next)
      process.stdout.write(`removed ${user} from ${path}\n`)
      return 0
    }
    const envName = values['password-env']
    const password = envName !== undefined ? process.env[envName] : await readStdinLine()
    if (password === undefined) throw new IotlessError('SECRET_MISSING', `--password-env: the environment variable ${envName ?? ''} is not set`)
    if (password.length < 8) throw new IotlessError('CLI_USAGE', 'the password must be at least 8 characters')
    writeUsers(path, setUserLine(text, user, await hashPassword(password)))
    process.stdout.write(`set the password of ${user} in ${path}\n`)
    return 0
  }
}
