// Knative Eventing's retry rule (eventing: pkg/kncloudevents/retries.go): retried = no response, transport
// errors, 5xx, 404, 408, 409, 429; not retried = 3xx and other 4xx. Retry-After per RFC 9110 section 10.2.3.
import t from 'tap'
import { classifyHttpStatus, classifyTransportError, errorCode, parseRetryAfter } from '../../adapters/targets/retryClass.js'

t.test('HTTP status table', async (t) => {
  const table: Array<[number, boolean]> = [
    [300, false], [301, false], [302, false], [304, false], [307, false], [308, false],
    [400, false], [401, false], [403, false], [404, true], [405, false], [406, false], [408, true], [409, true],
    [410, false], [411, false], [413, false], [415, false], [422, false], [425, false], [429, true], [431, false], [451, false], [499, false],
    [500, true], [501, true], [502, true], [503, true], [504, true], [507, true], [599, true]
  ]
  for (const [status, retryable] of table) t.same(classifyHttpStatus(status), { retryable }, String(status))
  // Every 4xx other than the four named ones is final.
  for (let s = 400; s < 500; s++) t.equal(classifyHttpStatus(s).retryable, [404, 408, 409, 429].includes(s), `4xx ${s}`)
  for (let s = 300; s < 400; s++) t.equal(classifyHttpStatus(s).retryable, false, `3xx ${s}`)
  for (let s = 500; s < 600; s++) t.equal(classifyHttpStatus(s).retryable, true, `5xx ${s}`)
})

function withCode (code: string, message = code): Error {
  return Object.assign(new Error(message), { code })
}

t.test('transport error table: everything is retryable except a request that cannot be built', async (t) => {
  const table: Array<[unknown, string, boolean]> = [
    [withCode('ECONNREFUSED'), 'TARGET_UNREACHABLE', true],
    [withCode('ECONNRESET'), 'TARGET_UNREACHABLE', true],
    [withCode('ENOTFOUND'), 'TARGET_UNREACHABLE', true],
    [withCode('EAI_AGAIN'), 'TARGET_UNREACHABLE', true],
    [withCode('EHOSTUNREACH'), 'TARGET_UNREACHABLE', true],
    [withCode('EPIPE'), 'TARGET_UNREACHABLE', true],
    [withCode('UND_ERR_SOCKET'), 'TARGET_UNREACHABLE', true],
    [withCode('UND_ERR_CLOSED'), 'TARGET_UNREACHABLE', true],
    [new Error('no code at all'), 'TARGET_UNREACHABLE', true],
    ['a string', 'TARGET_UNREACHABLE', true],
    [null, 'TARGET_UNREACHABLE', true],
    [withCode('UND_ERR_CONNECT_TIMEOUT'), 'TARGET_TIMEOUT', true],
    [withCode('UND_ERR_HEADERS_TIMEOUT'), 'TARGET_TIMEOUT', true],
    [withCode('UND_ERR_BODY_TIMEOUT'), 'TARGET_TIMEOUT', true],
    [withCode('ETIMEDOUT'), 'TARGET_TIMEOUT', true],
    [withCode('UNABLE_TO_VERIFY_LEAF_SIGNATURE'), 'TARGET_TLS', true],
    [withCode('SELF_SIGNED_CERT_IN_CHAIN'), 'TARGET_TLS', true],
    [withCode('DEPTH_ZERO_SELF_SIGNED_CERT'), 'TARGET_TLS', true],
    [withCode('CERT_HAS_EXPIRED'), 'TARGET_TLS', true],
    [withCode('ERR_TLS_CERT_ALTNAME_INVALID'), 'TARGET_TLS', true],
    [withCode('UND_ERR_INVALID_ARG'), 'TARGET_REQUEST_INVALID', false],
    [withCode('ERR_INVALID_CHAR'), 'TARGET_REQUEST_INVALID', false],
    // A code on the cause counts (fetch wraps socket errors in a TypeError).
    [new TypeError('fetch failed', { cause: withCode('ECONNREFUSED') }), 'TARGET_UNREACHABLE', true],
    [new TypeError('fetch failed', { cause: withCode('UND_ERR_HEADERS_TIMEOUT') }), 'TARGET_TIMEOUT', true]
  ]
  for (const [err, code, retryable] of table) {
    t.same(classifyTransportError(err), { code, retryable }, `${errorCode(err) ?? String(err)} -> ${code}`)
  }
})

t.test('the deadline and the caller signal decide over the error', async (t) => {
  const abortErr = Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'UND_ERR_ABORTED' })
  t.same(classifyTransportError(abortErr, { aborted: true }), { code: 'TARGET_ABORTED', retryable: true })
  t.same(classifyTransportError(abortErr, { timedOut: true }), { code: 'TARGET_TIMEOUT', retryable: true })
  t.same(classifyTransportError(withCode('ECONNRESET'), { timedOut: true }), { code: 'TARGET_TIMEOUT', retryable: true })
  t.same(classifyTransportError(abortErr, {}), { code: 'TARGET_UNREACHABLE', retryable: true }, 'an abort nobody asked for is a transport failure')
})

t.test('errorCode looks a few causes deep, and no further', async (t) => {
  t.equal(errorCode(withCode('X')), 'X')
  t.equal(errorCode(new Error('a', { cause: new Error('b', { cause: withCode('DEEP') }) })), 'DEEP')
  t.equal(errorCode({ code: 42 }), undefined)
  let e: Error = withCode('TOO_DEEP')
  for (let i = 0; i < 5; i++) e = new Error('wrap', { cause: e })
  t.equal(errorCode(e), undefined)
})

t.test('Retry-After: delta-seconds and the three HTTP-date forms', async (t) => {
  const now = Date.parse('1994-11-06T08:49:00Z')
  const table: Array<[string | string[] | undefined, number | undefined]> = [
    ['0', 0],
    ['1', 1000],
    ['120', 120_000],
    [' 30 ', 30_000],
    [['5', '7'], 5000],
    ['Sun, 06 Nov 1994 08:49:37 GMT', 37_000], // IMF-fixdate
    ['Sunday, 06-Nov-94 08:49:37 GMT', 37_000], // obsolete RFC 850
    ['Sun Nov  6 08:49:37 1994', 37_000], // obsolete asctime: GMT, not local time
    ['Sun, 06 Nov 1994 08:48:00 GMT', 0], // in the past
    [undefined, undefined],
    ['', undefined],
    ['-1', undefined],
    ['1.5', undefined],
    ['soon', undefined],
    ['2024-05-01T12:00:00Z', undefined], // ISO 8601 is not an HTTP-date
    ['99999999999999999999', undefined],
    ['Sun, 99 Nov 1994 08:49:37 GMT', undefined]
  ]
  for (const [value, ms] of table) t.equal(parseRetryAfter(value, now), ms, JSON.stringify(value))
})
