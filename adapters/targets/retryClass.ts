import type { ErrorCode } from '../../core/errors.js'

/**
 * Which failures are worth sending again: exactly Knative Eventing's rule
 * (eventing: pkg/kncloudevents/retries.go, checkRetry): no response or a transport error, 5xx, 404, 408, 409
 * and 429 are retried; 3xx and every other 4xx are not. Pure: no I/O, no clock of its own.
 */
export function classifyHttpStatus (status: number): { retryable: boolean } {
  return { retryable: status >= 500 || status === 404 || status === 408 || status === 409 || status === 429 }
}

/** What a request that got no HTTP response ends as. */
export interface TransportFailure {
  code: Extract<ErrorCode, 'TARGET_TIMEOUT' | 'TARGET_UNREACHABLE' | 'TARGET_TLS' | 'TARGET_ABORTED' | 'TARGET_REQUEST_INVALID'>
  retryable: boolean
}

/** Error codes of undici (lib/core/errors.js) and Node that mean "it took too long". */
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT', 'ESOCKETTIMEDOUT'])
/** Bad input to the HTTP client: the same event would fail the same way again. */
const INVALID_CODES = new Set(['UND_ERR_INVALID_ARG', 'ERR_INVALID_CHAR', 'ERR_INVALID_HTTP_TOKEN'])
/** OpenSSL verification errors (X509_V_ERR_*, as Node names them) and Node's own TLS checks. */
const TLS_CODE = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY|DECRYPT)|^ERR_TLS_|^ERR_SSL_|^EPROTO$/

/**
 * Maps an error thrown instead of a response. Knative retries every transport error, so all of them are
 * retryable here, TLS failures included (a certificate can be rotated); only a request that cannot be
 * built at all is not. `aborted` / `timedOut` say whether the caller's signal or the overall deadline
 * fired, which the error itself does not tell reliably (undici rejects with the signal's reason).
 */
export function classifyTransportError (err: unknown, state: { aborted?: boolean; timedOut?: boolean } = {}): TransportFailure {
  if (state.timedOut === true) return { code: 'TARGET_TIMEOUT', retryable: true }
  if (state.aborted === true) return { code: 'TARGET_ABORTED', retryable: true }
  const code = errorCode(err)
  if (code !== undefined) {
    if (TIMEOUT_CODES.has(code)) return { code: 'TARGET_TIMEOUT', retryable: true }
    if (INVALID_CODES.has(code)) return { code: 'TARGET_REQUEST_INVALID', retryable: false }
    if (TLS_CODE.test(code)) return { code: 'TARGET_TLS', retryable: true }
  }
  return { code: 'TARGET_UNREACHABLE', retryable: true }
}

/** The `code` of an error, or of its cause (undici wraps socket errors, fetch wraps everything). */
export function errorCode (err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') return code
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Retry-After (RFC 9110 section 10.2.3): delta-seconds or an HTTP-date. Returns milliseconds from `nowMs`
 * (0 for a date in the past), or undefined when the header is absent or not one of the two forms.
 */
export function parseRetryAfter (value: string | string[] | undefined, nowMs: number): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim()
  if (v === undefined || v === '') return undefined
  if (/^\d+$/.test(v)) {
    const seconds = Number(v)
    return Number.isSafeInteger(seconds * 1000) ? seconds * 1000 : undefined
  }
  // HTTP-date: IMF-fixdate, or the obsolete RFC 850 and asctime forms, which must be accepted too.
  if (!/^[A-Za-z]{3,9},? /.test(v)) return undefined
  // asctime carries no zone but means GMT; without the suffix Date.parse would read it as local time.
  const at = Date.parse(/ GMT$/.test(v) ? v : v + ' GMT')
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}
