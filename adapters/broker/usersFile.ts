import { IotlessError } from '../../core/errors.js'
import { passwordHashProblem } from './passwordHash.js'

/**
 * The embedded broker's users file: one `username:hash` per line (the shape of mosquitto_passwd's files), `#`
 * comments and blank lines ignored. The hashes come from `iotless broker passwd`; the file holds no password.
 * A username is what `{username}` in an ACL rule stands for, so it may not hold a topic separator or wildcard,
 * which would widen the rule (`a/#` in `devices/{username}/#`), nor `:` (the separator of this file).
 */
export type Users = ReadonlyMap<string, string>

const USERNAME = /^[^\s\p{Cc}:/+#]{1,128}$/u

export function usernameProblem (username: string): string | undefined {
  if (!USERNAME.test(username)) return 'a username is 1 to 128 characters with no whitespace and none of : / + # or control characters'
  return undefined
}

/** Parses the file's text; every bad line is reported at once, by line number (never its content). */
export function parseUsersFile (text: string, where: string): Users {
  const users = new Map<string, string>()
  const problems: string[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const colon = line.indexOf(':')
    if (colon < 0) { problems.push(`line ${i + 1}: expected username:hash`); return }
    const name = line.slice(0, colon)
    const hash = line.slice(colon + 1)
    const nameProblem = usernameProblem(name)
    if (nameProblem !== undefined) { problems.push(`line ${i + 1}: ${nameProblem}`); return }
    const hashProblem = passwordHashProblem(hash)
    if (hashProblem !== undefined) { problems.push(`line ${i + 1}: the hash of ${name} ${hashProblem}`); return }
    if (users.has(name)) { problems.push(`line ${i + 1}: ${name} appears twice`); return }
    users.set(name, hash)
  })
  if (problems.length > 0) throw new IotlessError('BROKER_USERS_INVALID', `${where}: ${problems.join('; ')}`)
  return users
}

/** The file's text with `username`'s line replaced (or appended), the rest kept as it was. */
export function setUserLine (text: string, username: string, hash: string): string {
  const lines = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/)
  const at = lines.findIndex((l) => l.trim().startsWith(`${username}:`))
  if (at >= 0) lines[at] = `${username}:${hash}`
  else lines.push(`${username}:${hash}`)
  return lines.join('\n') + '\n'
}

/** The file's text without `username`'s line; undefined when it has none. */
export function removeUserLine (text: string, username: string): string | undefined {
  const lines = text.replace(/\r?\n$/, '').split(/\r?\n/)
  const kept = lines.filter((l) => !l.trim().startsWith(`${username}:`))
  if (kept.length === lines.length) return undefined
  return kept.length === 0 ? '' : kept.join('\n') + '\n'
}
