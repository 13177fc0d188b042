import t from 'tap'
import { REDACTED, redactSecrets, redactUrl } from '../../core/redact.js'

const KEY = '23bc46b1-71f6-4ed5-8c54-816aa4f8c502:123zO3xZCLrMN6v2BKK1dXYFpXlPkccOFqm12CdAsMgRU4VrNZ9lyGVCGuMDGIwP'

t.test('the secret, its base64 (Basic auth), base64url and percent-encoded forms are replaced', async (t) => {
  const b64 = Buffer.from(KEY).toString('base64')
  const text = `key=${KEY} header="Authorization: Basic ${b64}" url=https://${encodeURIComponent(KEY)}@host/ b64url=${Buffer.from(KEY).toString('base64url')}`
  const out = redactSecrets(text, [KEY])
  t.equal(out, `key=${REDACTED} header="Authorization: Basic ${REDACTED}" url=https://${REDACTED}@host/ b64url=${REDACTED}`)
  t.notMatch(out, '123zO3x')
})

t.test('every occurrence, several secrets, longest first; empty and undefined ignored', async (t) => {
  t.equal(redactSecrets('a pw b pw c', ['pw']), `a ${REDACTED} b ${REDACTED} c`)
  t.equal(redactSecrets('user:longsecret and longsecret', ['longsecret', 'user:longsecret']), `${REDACTED} and ${REDACTED}`)
  t.equal(redactSecrets('nothing here', ['', undefined]), 'nothing here')
  t.equal(redactSecrets('x.*+?^$(y)', ['.*+?^$(']), `x${REDACTED}y)`, 'regex characters in a secret are plain text')
  t.equal(redactSecrets('pass: é€', ['é€']), `pass: ${REDACTED}`)
  t.equal(redactSecrets('pass: %C3%A9%E2%82%AC', ['é€']), `pass: ${REDACTED}`)
})

t.test('redactUrl hides the password of a URL\'s userinfo, keeps the user and the rest', async (t) => {
  t.equal(redactUrl('mqtt://iot:s3cret@broker:1883'), 'mqtt://iot:[REDACTED]@broker:1883')
  t.equal(redactUrl('mqtts://u:p%40ss@h/x'), 'mqtts://u:[REDACTED]@h/x', 'percent-encoded passwords too')
  t.equal(redactUrl('mqtt://:pw@h'), 'mqtt://:[REDACTED]@h')
  t.equal(redactUrl('mqtt://broker:1883'), 'mqtt://broker:1883', 'no userinfo: unchanged')
  t.equal(redactUrl('mqtt://user@broker'), 'mqtt://user@broker', 'a user alone is not a secret')
  t.equal(redactUrl('not a url //a:b@c'), 'not a url //a:[REDACTED]@c', 'text that does not parse is redacted by shape')
})
