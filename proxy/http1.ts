/**
 * Just enough HTTP/1.1 (RFC 9112) to know where each request and response begins and ends, and to read the
 * few headers the queue-proxy contract acts on. Everything else passes through as bytes.
 *
 * A proxy that frames messages itself must never disagree with the upstream about where a message ends
 * (request smuggling), so the request side is strict in the way llhttp's strict mode is: Content-Length
 * together with Transfer-Encoding, more than one Content-Length, obsolete line folding, a bad chunk size,
 * a bare CR or LF where CRLF is required, whitespace before a header colon, and control characters all
 * reject the request with 400 and close the connection. Transfer codings other than a lone `chunked` are
 * refused (501), because we could not frame them with certainty.
 *
 * The parsers are classes reused across requests on one connection, so parsing allocates only the head
 * string and the few header values it keeps.
 */

/** Body framing of one message. */
export const BODY_NONE = 0
export const BODY_LENGTH = 1
export const BODY_CHUNKED = 2
/** Response only: the body ends when the upstream closes. */
export const BODY_CLOSE = 3
export type BodyKind = typeof BODY_NONE | typeof BODY_LENGTH | typeof BODY_CHUNKED | typeof BODY_CLOSE

export const PARSE_MORE = -1
export const PARSE_ERROR = -2

const CR = 13
const LF = 10

/** A bare CR, a bare LF, or a control character other than HTAB, anywhere in a head. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point: llhttp strict mode refuses them
const BAD_HEAD_CHARS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
const DIGITS = /^\d{1,15}$/
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1')

/** Bytes llhttp accepts in the host part of an absolute-form target: letters, digits and !$%&'()*+,-.:;=?@[]_~. */
const SERVER_CHAR = new Uint8Array(128)
for (const c of "!$%&'()*+,-.:;=?@[]_~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") SERVER_CHAR[c.charCodeAt(0)] = 1

function isAlpha (c: number): boolean { return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }

/**
 * The request-target raw[a, b) as llhttp (Node's parser, and so most user containers) accepts it:
 * origin-form (`/...`), `*...`, or absolute-form (`letters://server[/ or ?...]`); after the server part
 * only visible ASCII (0x21-0x7E). llhttp refuses HTAB, obs-text (0x80-0xFF) and anything else; Go's
 * net/http is laxer (it takes 0x80-0xFF), so being as strict as llhttp never forwards what either refuses.
 */
export function validTarget (raw: string, a: number, b: number): boolean {
  let i = a
  const c0 = raw.charCodeAt(a)
  if (c0 !== 47 && c0 !== 42) {
    while (i < b && isAlpha(raw.charCodeAt(i))) i++
    if (i === a || i + 3 > b || raw.charCodeAt(i) !== 58 || raw.charCodeAt(i + 1) !== 47 || raw.charCodeAt(i + 2) !== 47) return false
    i += 3
    for (; i < b; i++) {
      const c = raw.charCodeAt(i)
      if (c >= 128 || SERVER_CHAR[c] !== 1) break
    }
    if (i < b && raw.charCodeAt(i) !== 47) return false
  }
  for (; i < b; i++) {
    const c = raw.charCodeAt(i)
    if (c < 0x21 || c > 0x7e) return false
  }
  return true
}

/** Strips optional whitespace (SP and HTAB only, RFC 9110 §5.6.3); String.trim would also strip 0xA0. */
function trimOws (s: string): string {
  let a = 0
  let b = s.length
  while (a < b && (s.charCodeAt(a) === 32 || s.charCodeAt(a) === 9)) a++
  while (b > a && (s.charCodeAt(b - 1) === 32 || s.charCodeAt(b - 1) === 9)) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}

function eqLower (s: string, lower: string): boolean {
  return s.length === lower.length && (s === lower || s.toLowerCase() === lower)
}

/** True if the comma-separated list contains `token` (case-insensitive). */
export function hasToken (list: string, token: string): boolean {
  if (list.length < token.length) return false
  for (const part of list.split(',')) if (eqLower(trimOws(part), token)) return true
  return false
}

/**
 * Finds the end of a head (the index just past CRLFCRLF) in `buf` from `start`. Returns PARSE_MORE if the
 * head is not complete yet, PARSE_ERROR if what is there already cannot be a valid head (a bare LF would
 * otherwise make us wait for a CRLFCRLF that never comes), or HEAD_TOO_LARGE if the head is over `maxBytes`.
 * `checked`: how many bytes after `start` an earlier call already looked at (it returned PARSE_MORE), so a
 * head that arrives in many small pieces is scanned once, not once per piece.
 */
export const HEAD_TOO_LARGE = -3
export function findHeadEnd (buf: Buffer, start: number, maxBytes: number, checked = 0): number {
  const i = buf.indexOf(CRLFCRLF, checked > 3 ? start + checked - 3 : start)
  if (i >= 0) {
    if (i + 4 - start > maxBytes) return HEAD_TOO_LARGE
    return i + 4
  }
  const avail = buf.length - start
  if (avail > maxBytes) return HEAD_TOO_LARGE
  // Check what has arrived so far for bytes no valid head can hold; a trailing CR may be completed later.
  const end = buf.length
  for (let j = checked > 1 ? start + checked - 1 : start; j < end; j++) {
    const b = buf[j] as number
    if (b >= 32 || b === 9) { if (b === 127) return PARSE_ERROR; continue }
    if (b === CR) { if (j + 1 < end && buf[j + 1] !== LF) return PARSE_ERROR; continue }
    if (b === LF) { if (j === start || buf[j - 1] !== CR) return PARSE_ERROR; continue }
    return PARSE_ERROR
  }
  return PARSE_MORE
}

/** Why a request was refused: status to answer with (the connection always closes after). */
export interface ParseFailure { status: number; reason: string }

/**
 * Request head parser. `parse` fills the public fields; they stay valid until the next `parse`.
 */
export class RequestHead {
  method = ''
  target = ''
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor = 1
  /** The raw head (request line to the final CRLF inclusive) as a latin1 string. */
  raw = ''
  bodyKind: BodyKind = BODY_NONE
  contentLength = 0
  keepAlive = true
  upgrade = false
  expectContinue = false
  /** kube-probe/ UA, K-Kubelet-Probe, or an activator or autoscaling probe UA (knative/pkg network/handlers/drain.go). */
  healthCheck = false
  /** Value of K-Network-Probe, or '' when absent. */
  networkProbe = ''
  networkHash = ''
  /** K-Proxy-Request: activator. */
  proxied = false
  failure: ParseFailure = { status: 400, reason: '' }

  // Rewrite bookkeeping: header line spans (start, end incl. CRLF) to drop, and the values we need.
  #drop: number[] = []
  #hostLine = -1
  #hostLineEnd = -1
  #originalHost = ''
  #hasForwarded = false
  #xff = ''
  #xfp = ''
  #xfh = ''
  #te = ''
  #clCount = 0
  #hostCount = 0
  #teCount = 0
  #upgradeHeader = false

  #fail (status: number, reason: string): number {
    this.failure.status = status
    this.failure.reason = reason
    return PARSE_ERROR
  }

  /** Parses the complete head `raw` (ending in CRLFCRLF). Returns 0, or PARSE_ERROR with `failure` set. */
  parse (raw: string): number {
    this.raw = raw
    this.bodyKind = BODY_NONE
    this.contentLength = 0
    this.upgrade = false
    this.expectContinue = false
    this.healthCheck = false
    this.networkProbe = ''
    this.networkHash = ''
    this.proxied = false
    this.#drop.length = 0
    this.#hostLine = -1
    this.#hostLineEnd = -1
    this.#originalHost = ''
    this.#hasForwarded = false
    this.#xff = ''
    this.#xfp = ''
    this.#xfh = ''
    this.#te = ''
    this.#clCount = 0
    this.#hostCount = 0
    this.#teCount = 0
    this.#upgradeHeader = false
    let connClose = false
    let connKeepAlive = false
    let connUpgrade = false

    if (BAD_HEAD_CHARS.test(raw)) return this.#fail(400, 'bare CR or LF, or a control character, in the head')
    const lineEnd = raw.indexOf('\r\n')
    const sp1 = raw.indexOf(' ')
    if (sp1 <= 0 || sp1 > lineEnd) return this.#fail(400, 'malformed request line')
    const sp2 = raw.indexOf(' ', sp1 + 1)
    if (sp2 < 0 || sp2 > lineEnd || sp2 === sp1 + 1) return this.#fail(400, 'malformed request line')
    this.method = raw.slice(0, sp1)
    if (!TOKEN.test(this.method)) return this.#fail(400, 'malformed method')
    this.target = raw.slice(sp1 + 1, sp2)
    const version = raw.slice(sp2 + 1, lineEnd)
    if (version === 'HTTP/1.1') this.minor = 1
    else if (version === 'HTTP/1.0') this.minor = 0
    else if (/^HTTP\/\d\.\d$/.test(version)) return this.#fail(505, 'HTTP version not supported')
    else return this.#fail(400, 'malformed request line')
    if (this.method === 'CONNECT') return this.#fail(501, 'CONNECT is not supported')
    if (!validTarget(raw, sp1 + 1, sp2)) return this.#fail(400, 'malformed request target')

    let pos = lineEnd + 2
    const headEnd = raw.length - 2
    while (pos < headEnd) {
      const e = raw.indexOf('\r\n', pos)
      const c0 = raw.charCodeAt(pos)
      // RFC 9112 §5.2: a server MUST reject obs-fold in a request with 400.
      if (c0 === 32 || c0 === 9) return this.#fail(400, 'obsolete line folding')
      const colon = raw.indexOf(':', pos)
      if (colon < 0 || colon > e) return this.#fail(400, 'header line without a colon')
      const name = raw.slice(pos, colon)
      // Also catches whitespace between the name and the colon (RFC 9112 §5.1: MUST reject with 400).
      if (!TOKEN.test(name)) return this.#fail(400, 'malformed header name')
      const r = this.#header(name, raw, colon + 1, e, pos)
      if (r !== 0) return r
      if (name.length === 10 && eqLower(name, 'connection')) {
        const v = raw.slice(colon + 1, e)
        if (hasToken(v, 'close')) connClose = true
        if (hasToken(v, 'keep-alive')) connKeepAlive = true
        if (hasToken(v, 'upgrade')) connUpgrade = true
      }
      pos = e + 2
    }

    if (this.minor === 1 && this.#hostCount !== 1) return this.#fail(400, this.#hostCount === 0 ? 'missing Host header' : 'more than one Host header')
    if (this.#hostCount > 1) return this.#fail(400, 'more than one Host header')
    if (this.#teCount > 0) {
      if (this.#clCount > 0) return this.#fail(400, 'both Content-Length and Transfer-Encoding')
      if (this.minor === 0) return this.#fail(400, 'Transfer-Encoding in an HTTP/1.0 request')
      const codings = this.#te.split(',')
      const last = trimOws(codings[codings.length - 1] as string)
      if (!eqLower(last, 'chunked')) return this.#fail(400, 'Transfer-Encoding does not end in chunked')
      if (codings.length > 1) return this.#fail(501, 'transfer codings other than chunked are not supported')
      this.bodyKind = BODY_CHUNKED
    } else if (this.#clCount > 1) {
      return this.#fail(400, 'more than one Content-Length')
    } else if (this.#clCount === 1 && this.contentLength > 0) {
      this.bodyKind = BODY_LENGTH
    }
    this.keepAlive = this.minor === 1 ? !connClose : connKeepAlive && !connClose
    // Only a request with both Connection: upgrade and Upgrade is one (RFC 9110 §7.8).
    this.upgrade = connUpgrade && this.#upgradeHeader
    return 0
  }

  #header (name: string, raw: string, vStart: number, vEnd: number, lineStart: number): number {
    switch (name.length) {
      case 4:
        if (eqLower(name, 'host')) {
          this.#hostCount++
          this.#hostLine = lineStart
          this.#hostLineEnd = vEnd + 2
        }
        break
      case 6:
        if (eqLower(name, 'expect') && eqLower(trimOws(raw.slice(vStart, vEnd)), '100-continue')) this.expectContinue = true
        break
      case 7:
        if (eqLower(name, 'upgrade')) this.#upgradeHeader = true
        break
      case 9:
        if (eqLower(name, 'forwarded')) this.#hasForwarded = true
        break
      case 10:
        if (eqLower(name, 'user-agent')) {
          const v = trimOws(raw.slice(vStart, vEnd))
          if (v.startsWith('kube-probe/') || v.startsWith('Knative-Activator-Probe') || v.startsWith('Knative-Autoscaling-Probe')) this.healthCheck = true
        }
        break
      case 14:
        if (eqLower(name, 'content-length')) {
          this.#clCount++
          const v = trimOws(raw.slice(vStart, vEnd))
          if (!DIGITS.test(v)) return this.#fail(400, 'malformed Content-Length')
          this.contentLength = Number(v)
        } else if (eqLower(name, 'k-network-hash')) {
          this.networkHash = trimOws(raw.slice(vStart, vEnd))
        }
        break
      case 15:
        if (eqLower(name, 'k-kubelet-probe')) this.healthCheck = true
        else if (eqLower(name, 'k-network-probe')) this.networkProbe = trimOws(raw.slice(vStart, vEnd))
        else if (eqLower(name, 'k-proxy-request')) this.proxied = trimOws(raw.slice(vStart, vEnd)) === 'activator'
        else if (eqLower(name, 'k-original-host')) {
          // pkg/http/header RewriteHostOut: becomes Host, and is not passed on itself.
          this.#originalHost = trimOws(raw.slice(vStart, vEnd))
          this.#drop.push(lineStart, vEnd + 2)
        } else if (eqLower(name, 'x-forwarded-for')) {
          // Go's Header.Get returns the first value; the Forwarded shim reads only that one.
          if (this.#xff === '') this.#xff = trimOws(raw.slice(vStart, vEnd))
        }
        break
      case 16:
        if (eqLower(name, 'x-forwarded-host') && this.#xfh === '') this.#xfh = trimOws(raw.slice(vStart, vEnd))
        break
      case 17:
        if (eqLower(name, 'transfer-encoding')) {
          this.#teCount++
          const v = trimOws(raw.slice(vStart, vEnd))
          this.#te = this.#te === '' ? v : this.#te + ',' + v
        } else if (eqLower(name, 'x-forwarded-proto') && this.#xfp === '') {
          this.#xfp = trimOws(raw.slice(vStart, vEnd))
        }
        break
      case 24:
        // activator.RevisionHeaders: not for the user container.
        if (eqLower(name, 'knative-serving-revision')) this.#drop.push(lineStart, vEnd + 2)
        break
      case 25:
        if (eqLower(name, 'knative-serving-namespace')) this.#drop.push(lineStart, vEnd + 2)
        break
    }
    return 0
  }

  /**
   * The head to send upstream: Knative's revision headers dropped, K-Original-Host turned into Host
   * (pkg/http/header RewriteHostOut), a Forwarded header built from X-Forwarded-* when there is none
   * (pkg/queue/forwarded.go ForwardedShimHandler), and the client address appended to X-Forwarded-For as
   * Go's httputil.ReverseProxy does. Everything else, traceparent included, passes through as it came.
   */
  rewrite (xffLine: string): string {
    const raw = this.raw
    let extra = xffLine
    if (!this.#hasForwarded && (this.#xff !== '' || this.#xfp !== '' || this.#xfh !== '')) {
      extra = 'Forwarded: ' + forwardedFrom(this.#xff, this.#xfp, this.#xfh) + '\r\n' + extra
    }
    if (this.#drop.length === 0) return raw.slice(0, raw.length - 2) + extra + '\r\n'
    // Rare path: rebuild around the dropped lines, in order.
    const spans: number[] = this.#drop.slice()
    if (this.#originalHost !== '' && this.#hostLine >= 0) spans.push(this.#hostLine, this.#hostLineEnd)
    const order: number[] = []
    for (let i = 0; i < spans.length; i += 2) order.push(i)
    order.sort((a, b) => (spans[a] as number) - (spans[b] as number))
    let out = ''
    let at = 0
    for (const i of order) {
      const s = spans[i] as number
      out += raw.slice(at, s)
      if (s === this.#hostLine && this.#originalHost !== '') out += 'Host: ' + this.#originalHost + '\r\n'
      at = spans[i + 1] as number
    }
    out += raw.slice(at, raw.length - 2)
    if (this.#originalHost !== '' && this.#hostLine < 0) out += 'Host: ' + this.#originalHost + '\r\n'
    return out + extra + '\r\n'
  }
}

/** The Forwarded value Knative's shim builds from the first X-Forwarded-* values (RFC 7239 §4). */
export function forwardedFrom (xff: string, xfp: string, xfh: string): string {
  const nodes = xff === '' ? [] : xff.split(',').map(trimOws)
  const node = (n: string): string => n.includes(':') ? `"[${n}]"` : n
  let out = ''
  if (nodes.length > 0) out = 'for=' + node(nodes[0] as string)
  if (xfh !== '') out += (out === '' ? '' : ';') + 'host=' + xfh
  if (xfp !== '') out += (out === '' ? '' : ';') + 'proto=' + xfp
  for (let i = 1; i < nodes.length; i++) out += ', for=' + node(nodes[i] as string)
  return out
}

/** Response head parser, for framing what the upstream sends back. */
export class ResponseHead {
  status = 0
  minor = 1
  bodyKind: BodyKind = BODY_NONE
  contentLength = 0
  /** The upstream may keep the connection open for another request. */
  reusable = true
  hasConnectionClose = false
  reason = ''

  /** Parses a complete head. `requestMethodHead`: the request was HEAD, so there is no body whatever the headers say. */
  parse (raw: string, requestMethodHead: boolean): number {
    this.bodyKind = BODY_NONE
    this.contentLength = 0
    this.hasConnectionClose = false
    if (BAD_HEAD_CHARS.test(raw)) return this.#fail('bare CR or LF, or a control character, in the response head')
    const lineEnd = raw.indexOf('\r\n')
    if (lineEnd < 12 || !raw.startsWith('HTTP/1.') || raw.charCodeAt(12) !== 32 && lineEnd !== 12) return this.#fail('malformed status line')
    const m = raw.charCodeAt(7)
    if (m === 49) this.minor = 1
    else if (m === 48) this.minor = 0
    else return this.#fail('unsupported response version')
    if (raw.charCodeAt(8) !== 32) return this.#fail('malformed status line')
    const code = raw.slice(9, 12)
    if (!/^[1-5]\d\d$/.test(code)) return this.#fail('malformed status code')
    this.status = Number(code)
    let clCount = 0
    let te = ''
    let keepAlive = false
    let pos = lineEnd + 2
    const headEnd = raw.length - 2
    while (pos < headEnd) {
      const e = raw.indexOf('\r\n', pos)
      const c0 = raw.charCodeAt(pos)
      if (c0 === 32 || c0 === 9) return this.#fail('obsolete line folding in the response')
      const colon = raw.indexOf(':', pos)
      if (colon < 0 || colon > e) return this.#fail('response header line without a colon')
      const name = raw.slice(pos, colon)
      if (!TOKEN.test(name)) return this.#fail('malformed response header name')
      if (name.length === 14 && eqLower(name, 'content-length')) {
        clCount++
        const v = trimOws(raw.slice(colon + 1, e))
        if (!DIGITS.test(v)) return this.#fail('malformed Content-Length in the response')
        this.contentLength = Number(v)
      } else if (name.length === 17 && eqLower(name, 'transfer-encoding')) {
        const v = trimOws(raw.slice(colon + 1, e))
        te = te === '' ? v : te + ',' + v
      } else if (name.length === 10 && eqLower(name, 'connection')) {
        const v = raw.slice(colon + 1, e)
        if (hasToken(v, 'close')) this.hasConnectionClose = true
        if (hasToken(v, 'keep-alive')) keepAlive = true
      }
      pos = e + 2
    }
    this.reusable = !this.hasConnectionClose && (this.minor === 1 || keepAlive)
    const s = this.status
    if (requestMethodHead || (s >= 100 && s < 200) || s === 204 || s === 304) return 0
    if (te !== '') {
      // RFC 9112 §6.1: a sender must not send both; we cannot be sure the client frames it as we do.
      if (clCount > 0) return this.#fail('response has both Content-Length and Transfer-Encoding')
      const codings = te.split(',')
      if (eqLower(trimOws(codings[codings.length - 1] as string), 'chunked')) {
        this.bodyKind = BODY_CHUNKED
      } else {
        this.bodyKind = BODY_CLOSE
        this.reusable = false
      }
      return 0
    }
    if (clCount > 1) return this.#fail('response has more than one Content-Length')
    if (clCount === 1) {
      this.bodyKind = this.contentLength > 0 ? BODY_LENGTH : BODY_NONE
      return 0
    }
    this.bodyKind = BODY_CLOSE
    this.reusable = false
    return 0
  }

  #fail (reason: string): number {
    this.reason = reason
    return PARSE_ERROR
  }
}

// Chunked framer states.
const C_SIZE_FIRST = 0
const C_SIZE = 1
const C_EXT = 2
const C_SIZE_LF = 3
const C_DATA = 4
const C_DATA_CR = 5
const C_DATA_LF = 6
const C_TRAILER_START = 7
const C_TRAILER_LINE = 8
const C_TRAILER_LF = 9
const C_END_LF = 10
const C_DONE = 11

/** 13 hex digits = 2^52, below Number.MAX_SAFE_INTEGER. */
const MAX_SIZE_DIGITS = 13

function hexValue (b: number): number {
  if (b >= 48 && b <= 57) return b - 48
  if (b >= 97 && b <= 102) return b - 87
  if (b >= 65 && b <= 70) return b - 55
  return -1
}

/**
 * Follows a chunked body byte by byte through its framing and in bulk through its data, so the bytes can
 * pass through unchanged while we learn where the body ends (RFC 9112 §7.1). Rejects what llhttp's strict
 * mode rejects: a size that is not hex, too many digits, spaces after the size, a bare LF, a missing CRLF
 * after the data, and control characters in extensions and trailers.
 */
export class ChunkedFramer {
  #state = C_SIZE_FIRST
  #size = 0
  #digits = 0
  #lineBytes = 0
  readonly maxLineBytes: number
  error = ''

  constructor (maxLineBytes = 8192) { this.maxLineBytes = maxLineBytes }

  reset (): void {
    this.#state = C_SIZE_FIRST
    this.#size = 0
    this.#digits = 0
    this.#lineBytes = 0
    this.error = ''
  }

  get done (): boolean { return this.#state === C_DONE }

  /**
   * Consumes buf[start, end). Returns the index just past the body's last byte when the body ends inside
   * this range, PARSE_MORE when all of it was consumed and more is needed, or PARSE_ERROR.
   */
  feed (buf: Uint8Array, start: number, end: number): number {
    let i = start
    while (i < end) {
      const b = buf[i] as number
      switch (this.#state) {
        case C_SIZE_FIRST: {
          const h = hexValue(b)
          if (h < 0) return this.#err('bad chunk size')
          this.#size = h
          this.#digits = 1
          this.#state = C_SIZE
          i++
          break
        }
        case C_SIZE: {
          const h = hexValue(b)
          if (h >= 0) {
            if (++this.#digits > MAX_SIZE_DIGITS) return this.#err('chunk size too large')
            this.#size = this.#size * 16 + h
            i++
          } else if (b === CR) {
            this.#state = C_SIZE_LF
            i++
          } else if (b === 59 /* ; */) {
            this.#state = C_EXT
            this.#lineBytes = 0
            i++
          } else {
            return this.#err('bad chunk size')
          }
          break
        }
        case C_EXT: {
          if (b === CR) { this.#state = C_SIZE_LF; i++; break }
          if ((b < 32 && b !== 9) || b === 127) return this.#err('bad chunk extension')
          if (++this.#lineBytes > this.maxLineBytes) return this.#err('chunk extension too long')
          i++
          break
        }
        case C_SIZE_LF:
          if (b !== LF) return this.#err('bare CR after chunk size')
          i++
          this.#state = this.#size === 0 ? C_TRAILER_START : C_DATA
          break
        case C_DATA: {
          const take = Math.min(this.#size, end - i)
          this.#size -= take
          i += take
          if (this.#size === 0) this.#state = C_DATA_CR
          break
        }
        case C_DATA_CR:
          if (b !== CR) return this.#err('missing CRLF after chunk data')
          this.#state = C_DATA_LF
          i++
          break
        case C_DATA_LF:
          if (b !== LF) return this.#err('missing CRLF after chunk data')
          this.#state = C_SIZE_FIRST
          i++
          break
        case C_TRAILER_START:
          if (b === CR) { this.#state = C_END_LF; i++; break }
          if (b === 32 || b === 9) return this.#err('obsolete line folding in trailer')
          if (b === LF) return this.#err('bare LF in trailer')
          this.#state = C_TRAILER_LINE
          this.#lineBytes = 0
          break
        case C_TRAILER_LINE:
          if (b === CR) { this.#state = C_TRAILER_LF; i++; break }
          if ((b < 32 && b !== 9) || b === 127) return this.#err('bad character in trailer')
          if (++this.#lineBytes > this.maxLineBytes) return this.#err('trailer too long')
          i++
          break
        case C_TRAILER_LF:
          if (b !== LF) return this.#err('bare CR in trailer')
          this.#state = C_TRAILER_START
          i++
          break
        case C_END_LF:
          if (b !== LF) return this.#err('bare CR at end of chunked body')
          this.#state = C_DONE
          return i + 1
        default:
          return i
      }
    }
    return PARSE_MORE
  }

  #err (reason: string): number {
    this.error = reason
    return PARSE_ERROR
  }
}

/**
 * The response head with its Connection and Keep-Alive lines replaced by `Connection: close`, for a
 * response after which we close the client connection although the upstream meant to keep it.
 */
export function withConnectionClose (raw: string): string {
  let out = ''
  let at = 0
  let pos = raw.indexOf('\r\n') + 2
  const headEnd = raw.length - 2
  while (pos < headEnd) {
    const e = raw.indexOf('\r\n', pos)
    const colon = raw.indexOf(':', pos)
    const n = colon - pos
    if ((n === 10 && eqLower(raw.slice(pos, colon), 'connection')) || (n === 10 && eqLower(raw.slice(pos, colon), 'keep-alive'))) {
      out += raw.slice(at, pos)
      at = e + 2
    }
    pos = e + 2
  }
  return out + raw.slice(at, headEnd) + 'Connection: close\r\n\r\n'
}
