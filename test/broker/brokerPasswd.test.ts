import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { verifyPassword } from '../../adapters/broker/passwordHash.js'
import { parseUsersFile } from '../../adapters/broker/usersFile.js'
import { cliPath, repoRoot } from '../helpers/paths.js'

function passwd (args: string[], input = '', env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [cliPath, 'broker', 'passwd', ...args], { cwd: repoRoot, input, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 20_000 })
}

t.test('iotless broker passwd writes a users file the broker reads, mode 0600, no password in it', async (t) => {
  const file = join(t.testdir(), 'users')
  t.equal(passwd([file, 'sensor-17'], 'first-password\n').status, 0)
  t.equal(passwd([file, 'sensor-18', '--password-env', 'PW18'], '', { PW18: 'second-password' }).status, 0)
  t.equal(passwd([file, 'sensor-17'], 'changed-password\n').status, 0, 'changing a password')
  const text = readFileSync(file, 'utf8')
  t.notMatch(text, /password/)
  t.equal(statSync(file).mode & 0o777, 0o600)
  const users = parseUsersFile(text, file)
  t.same([...users.keys()], ['sensor-17', 'sensor-18'])
  t.ok(await verifyPassword('changed-password', users.get('sensor-17') ?? ''))
  t.notOk(await verifyPassword('first-password', users.get('sensor-17') ?? ''))
  t.ok(await verifyPassword('second-password', users.get('sensor-18') ?? ''))
  t.equal(passwd(['--delete', file, 'sensor-17']).status, 0)
  t.same([...parseUsersFile(readFileSync(file, 'utf8'), file).keys()], ['sensor-18'])
})

t.test('bad input: a short password, a username that would widen an ACL, a broken file, a missing variable', async (t) => {
  const dir = t.testdir()
  const file = join(dir, 'users')
  const short = passwd([file, 's1'], 'short\n')
  t.equal(short.status, 2)
  t.match(short.stderr, 'CLI_USAGE: the password must be at least 8 characters')
  const bad = passwd([file, 'a/#'], 'long-enough-pw\n')
  t.equal(bad.status, 2)
  t.match(bad.stderr, /USER: a username is/)
  writeFileSync(join(dir, 'broken'), 'not a users line\n')
  const broken = passwd([join(dir, 'broken'), 's1'], 'long-enough-pw\n')
  t.equal(broken.status, 2)
  t.match(broken.stderr, /BROKER_USERS_INVALID: .*line 1: expected username:hash/)
  const noVar = passwd([file, 's1', '--password-env', 'NOPE_NOT_SET'])
  t.equal(noVar.status, 2)
  t.match(noVar.stderr, 'SECRET_MISSING')
  t.equal(passwd(['--delete', file, 'nobody']).status, 2)
})
