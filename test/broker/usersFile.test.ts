import t from 'tap'
import { hashPassword, passwordHashProblem, verifyPassword } from '../../adapters/broker/passwordHash.js'
import { parseUsersFile, removeUserLine, setUserLine } from '../../adapters/broker/usersFile.js'
import { isIotlessError } from '../../core/errors.js'

t.test('scrypt hashes verify the right password only, with a random salt each time', async (t) => {
  const h1 = await hashPassword('correct horse')
  const h2 = await hashPassword('correct horse')
  t.match(h1, /^\$scrypt\$N=16384,r=8,p=1\$/)
  t.not(h1, h2, 'salted')
  t.equal(passwordHashProblem(h1), undefined)
  t.ok(await verifyPassword('correct horse', h1))
  t.notOk(await verifyPassword('correct horsf', h1))
  t.notOk(await verifyPassword('correct horse', 'plain-text'), 'a malformed hash never verifies')
  t.match(passwordHashProblem('$scrypt$N=1000,r=8,p=1$AAAA$AAAA'), /power of two/)
})

t.test('the users file: lines, comments, and every bad line at once by number', async (t) => {
  const h = await hashPassword('password-1')
  const users = parseUsersFile(`# devices\n\ns1:${h}\r\ns2:${h}\n`, 'users')
  t.same([...users.keys()], ['s1', 's2'])
  const err = (() => { try { parseUsersFile(`s1:${h}\nno-colon\na/b:${h}\ns3:plain\ns1:${h}\n`, 'f'); return undefined } catch (e) { return e } })()
  t.ok(isIotlessError(err, 'BROKER_USERS_INVALID'))
  t.match((err as Error).message, /line 2: expected username:hash; line 3: a username .*; line 4: the hash of s3 is not a hash .*; line 5: s1 appears twice/)
  t.notMatch((err as Error).message, h.slice(30), 'no hash in the message')
})

t.test('set and remove a line, the rest kept', async (t) => {
  const a = setUserLine('', 's1', 'H1')
  t.equal(a, 's1:H1\n')
  const b = setUserLine('# mine\n' + a, 's2', 'H2')
  t.equal(b, '# mine\ns1:H1\ns2:H2\n')
  t.equal(setUserLine(b, 's1', 'H3'), '# mine\ns1:H3\ns2:H2\n')
  t.equal(removeUserLine(b, 's1'), '# mine\ns2:H2\n')
  t.equal(removeUserLine(b, 's9'), undefined)
})
