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
 * The parsers are classes reused across requests on one connection and read heads in place, in the Buffer
 * they arrived in, so parsing allocates only the few header values it keeps.
 */
import { connectionNominees, connectionValues, nominatedLineSpans } from './hopByHop.js'
import { SpanList } from './spanList.js'

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

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1')

/** Bytes llhttp accepts in the host part of an absolute-form target: letters, digits and !$%&'()*+,-.:;=?@[]_~. */
const SERVER_CHAR = new Uint8Array(128)
for (const c of "!$%&'()*+,-.:;=?@[]_~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") SERVER_CHAR[c.charCodeAt(0)] = 1

function isAlpha (c: number): boolean { return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
function isDigit (c: number | undefined): boolean { return c !== undefined && c >= 48 && c <= 57 }

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

/** tchar (RFC 9110 §5.6.2), for methods and header names. */
const TOKEN_CHAR = new Uint8Array(256)
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHAR[c.charCodeAt(0)] = 1

/** A control character other than HTAB (CR and LF are checked where they may appear). */
function isCtl (c: number): boolean { return (c < 32 && c !== 9) || c === 127 }
function isOws (c: number | undefined): boolean { return c === 32 || c === 9 }

/**
 * b[at, at + lower.length) equals `lower` ignoring ASCII case. `lower` holds lowercase letters, digits and
 * '-'; callers pass bytes already checked free of control characters, so `| 0x20` folds letters only.
 */
function eqLowerAt (b: Uint8Array, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    const c = b[at + i] as number
    const l = lower.charCodeAt(i)
    if (c !== l && (c | 0x20) !== l) return false
  }
  return true
}

/** b[a, z) starts with `prefix`, exactly. */
function startsWithAt (b: Uint8Array, a: number, z: number, prefix: string): boolean {
  if (z - a < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (b[a + i] !== prefix.charCodeAt(i)) return false
  return true
}

/**
 * Which of `names` (lowercase) the comma-separated list in b[a, z) holds, case-insensitive, in one pass and
 * without allocating: bit i for names[i], bit names.length for any other token.
 */
function listTokensAt (b: Uint8Array, a: number, z: number, names: readonly string[]): number {
  let bits = 0
  let s = a
  while (s <= z) {
    let e = s
    while (e < z && b[e] !== 44) e++
    let x = s
    let y = e
    while (x < y && isOws(b[x])) x++
    while (y > x && isOws(b[y - 1])) y--
    const n = y - x
    if (n !== 0) {
      let k = 0
      while (k < names.length && !((names[k] as string).length === n && eqLowerAt(b, x, names[k] as string))) k++
      bits |= 1 << k
    }
    s = e + 1
  }
  return bits
}

/** The options a Connection value lists (listTokensAt over CONN_OPTIONS). */
const CONN_OPTIONS = ['close', 'keep-alive', 'upgrade'] as const
const CONN_CLOSE = 1
const CONN_KEEP_ALIVE = 2
const CONN_UPGRADE = 4
/** A token other than the three: the name of a field that is hop-by-hop too. */
const CONN_NAMES_FIELD = 8
const TRAILERS = ['trailers'] as const

/**
 * The request-target b[a, z) as llhttp (Node's parser, and so most user containers) accepts it:
 * origin-form (`/...`), `*...`, or absolute-form (`letters://server[/ or ?...]`); after the server part
 * only visible ASCII (0x21-0x7E). llhttp refuses HTAB, obs-text (0x80-0xFF) and anything else; Go's
 * net/http is laxer (it takes 0x80-0xFF), so being as strict as llhttp never forwards what either refuses.
 */
function validTargetAt (b: Uint8Array, a: number, z: number): boolean {
  let i = a
  const c0 = b[a] as number
  if (c0 !== 47 && c0 !== 42) {
    while (i < z && isAlpha(b[i] as number)) i++
    if (i === a || i + 3 > z || b[i] !== 58 || b[i + 1] !== 47 || b[i + 2] !== 47) return false
    i += 3
    for (; i < z; i++) {
      const c = b[i] as number
      if (c >= 128 || SERVER_CHAR[c] !== 1) break
    }
    if (i < z && b[i] !== 47) return false
  }
  for (; i < z; i++) {
    const c = b[i] as number
    if (c < 0x21 || c > 0x7e) return false
  }
  return true
}

function methodName (b: Buffer, a: number, z: number): string {
  const n = z - a
  if (n === 3 && b[a] === 71 && b[a + 1] === 69 && b[a + 2] === 84) return 'GET'
  if (n === 4 && b[a] === 80 && b[a + 1] === 79 && b[a + 2] === 83 && b[a + 3] === 84) return 'POST'
  if (n === 4 && b[a] === 72 && b[a + 1] === 69 && b[a + 2] === 65 && b[a + 3] === 68) return 'HEAD'
  return b.toString('latin1', a, z)
}

/** 1 to 15 decimal digits in b[a, z) as a number, or -1. */
function digitsAt (b: Uint8Array, a: number, z: number): number {
  if (z <= a || z - a > 15) return -1
  let n = 0
  for (let i = a; i < z; i++) {
    const c = b[i] as number
    if (c < 48 || c > 57) return -1
    n = n * 10 + (c - 48)
  }
  return n
}

const BAD_BYTES = 'bare CR or LF, or a control character, in the head'
const BAD_RESPONSE_BYTES = 'bare CR or LF, or a control character, in the response head'

/**
 * Request head parser. `parseBuf` reads the head in place, in the Buffer it arrived in, and fills the
 * public fields; they stay valid until the next parse. Strings are made only for the rare headers whose
 * values the proxy keeps (probes, K-Original-Host, X-Forwarded-*, Transfer-Encoding).
 */
export class RequestHead {
  method = ''
  /** 1 for HTTP/1.1, 0 for HTTP/1.0. */
  minor = 1
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
  /** Knative-Serving-Tag and Knative-Serving-Default-Route, '' when absent (routeTagOf turns them into the metrics label). */
  routeTag = ''
  defaultRoute = ''
  /**
   * Set by the owner when tracing is on: the incoming traceparent is then read into `traceparent` and its line
   * dropped from the forwarded head (the proxy's span takes its place). Off, the header passes untouched.
   */
  takeTraceparent = false
  traceparent = ''
  failure: ParseFailure = { status: 400, reason: '' }

  #buf: Buffer = Buffer.alloc(0)
  #start = 0
  #end = 0
  #targetStart = 0
  #targetEnd = 0
  #raw: string | null = null
  // Rewrite bookkeeping: header line spans (start, end incl. CRLF, relative to the head) to drop.
  #drop = new SpanList()
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
  #connClose = false
  #connKeepAlive = false
  #connUpgrade = false
  /** Spans of the Connection lines, dropped when the request says close (hop-by-hop; see #finishHopByHop). */
  #connLines = new SpanList()
  /** A Connection line names a field (`Connection: X-Foo`): that field is hop-by-hop too. */
  #connNamesField = false
  /** Spans of the Upgrade lines (dropped unless this is an upgrade) and the Trailer lines (unless chunked). */
  #upgradeLines: number[] = []
  #trailerLines: number[] = []
  /** A `TE: trailers` line is forwarded as it came; #teTrailers: a TE line that was dropped asked for trailers. */
  #teKept = false
  #teTrailers = false
  /** Lines to add to the forwarded head (`TE: trailers` in place of a dropped TE that listed it). */
  #extra = ''

  /** The raw head (request line to the final CRLF inclusive) as a latin1 string, made on first use. */
  get raw (): string {
    if (this.#raw === null) this.#raw = this.#buf.toString('latin1', this.#start, this.#end)
    return this.#raw
  }

  get target (): string { return this.#buf.toString('latin1', this.#targetStart, this.#targetEnd) }

  #fail (status: number, reason: string): number {
    this.failure.status = status
    this.failure.reason = reason
    return PARSE_ERROR
  }

  /** Parses the complete head `raw` (ending in CRLFCRLF). Returns 0, or PARSE_ERROR with `failure` set. */
  parse (raw: string): number {
    return this.parseBuf(Buffer.from(raw, 'latin1'), 0, raw.length)
  }

  /** Parses the complete head b[s, e) (ending in CRLFCRLF). Returns 0, or PARSE_ERROR with `failure` set. */
  parseBuf (b: Buffer, s: number, e: number): number {
    this.#buf = b
    this.#start = s
    this.#end = e
    this.#raw = null
    this.bodyKind = BODY_NONE
    this.contentLength = 0
    this.upgrade = false
    this.expectContinue = false
    this.healthCheck = false
    this.networkProbe = ''
    this.networkHash = ''
    this.proxied = false
    this.routeTag = ''
    this.defaultRoute = ''
    this.traceparent = ''
    this.#drop.clear()
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
    this.#connClose = false
    this.#connKeepAlive = false
    this.#connUpgrade = false
    this.#connLines.clear()
    this.#connNamesField = false
    this.#upgradeLines.length = 0
    this.#trailerLines.length = 0
    this.#teKept = false
    this.#teTrailers = false
    this.#extra = ''

    // Request line.
    let lineEnd = s
    while (lineEnd < e && b[lineEnd] !== CR) { if (isCtl(b[lineEnd] as number)) return this.#fail(400, BAD_BYTES); lineEnd++ }
    if (lineEnd + 1 >= e || b[lineEnd + 1] !== LF) return this.#fail(400, BAD_BYTES)
    let sp1 = s
    while (sp1 < lineEnd && b[sp1] !== 32) sp1++
    if (sp1 === s || sp1 >= lineEnd) return this.#fail(400, 'malformed request line')
    let sp2 = sp1 + 1
    while (sp2 < lineEnd && b[sp2] !== 32) sp2++
    if (sp2 >= lineEnd || sp2 === sp1 + 1) return this.#fail(400, 'malformed request line')
    for (let k = s; k < sp1; k++) if (TOKEN_CHAR[b[k] as number] !== 1) return this.#fail(400, 'malformed method')
    this.method = methodName(b, s, sp1)
    this.#targetStart = sp1 + 1
    this.#targetEnd = sp2
    const v = sp2 + 1
    if (lineEnd - v === 8 && startsWithAt(b, v, lineEnd, 'HTTP/') && isDigit(b[v + 5]) && b[v + 6] === 46 && isDigit(b[v + 7])) {
      if (b[v + 5] === 49 && b[v + 7] === 49) this.minor = 1
      else if (b[v + 5] === 49 && b[v + 7] === 48) this.minor = 0
      else return this.#fail(505, 'HTTP version not supported')
    } else {
      return this.#fail(400, 'malformed request line')
    }
    if (this.method === 'CONNECT') return this.#fail(501, 'CONNECT is not supported')
    if (!validTargetAt(b, sp1 + 1, sp2)) return this.#fail(400, 'malformed request target')

    // Header lines.
    let pos = lineEnd + 2
    const headEnd = e - 2
    while (pos < headEnd) {
      const c0 = b[pos]
      // RFC 9112 §5.2: a server MUST reject obs-fold in a request with 400.
      if (c0 === 32 || c0 === 9) return this.#fail(400, 'obsolete line folding')
      let le = pos
      let colon = -1
      while (le < e && b[le] !== CR) {
        const c = b[le] as number
        if (isCtl(c)) return this.#fail(400, BAD_BYTES)
        if (c === 58 && colon < 0) colon = le
        le++
      }
      if (le + 1 >= e || b[le + 1] !== LF) return this.#fail(400, BAD_BYTES)
      if (colon < 0) return this.#fail(400, 'header line without a colon')
      // Also catches whitespace between the name and the colon (RFC 9112 §5.1: MUST reject with 400).
      if (colon === pos) return this.#fail(400, 'malformed header name')
      for (let k = pos; k < colon; k++) if (TOKEN_CHAR[b[k] as number] !== 1) return this.#fail(400, 'malformed header name')
      const r = this.#header(b, pos, colon, le)
      if (r !== 0) return r
      pos = le + 2
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
    const connClose = this.#connClose
    this.keepAlive = this.minor === 1 ? !connClose : this.#connKeepAlive && !connClose
    // Only a request with both Connection: upgrade and Upgrade is one (RFC 9110 §7.8).
    this.upgrade = this.#connUpgrade && this.#upgradeHeader
    this.#finishHopByHop()
    return 0
  }

  /**
   * Hop-by-hop fields (RFC 9110 §7.6.1) are about the client's connection, not the upstream's. Go's
   * httputil.ReverseProxy, so Knative's queue-proxy, removes them from the request it forwards (hopByHop.ts);
   * passed through, `Connection: close` cost an upstream connect and close per request, Proxy-Authorization
   * handed the client's proxy credentials to the user container, and `Connection: X-Foo` left X-Foo in.
   * Keep-Alive, Proxy-Connection, Proxy-Authorization and Proxy-Authenticate were marked in #header and go
   * always. Here, once the whole head is known:
   * - Connection lines go when they say close on an HTTP/1.1 request that is not an upgrade (the client
   *   connection still closes after the response, `keepAlive` is false). A Connection without close
   *   (`keep-alive`, the usual) is left in place: it asks for what HTTP/1.1 does anyway, and dropping it would
   *   take the common head off its copy-once path. HTTP/1.0 requests keep theirs: the upstream hears 1.0 from
   *   us and would close without `keep-alive`.
   * - Upgrade goes unless this is an upgrade (Go forwards it only with `Connection: upgrade`).
   * - Trailer goes unless the body is chunked: we forward a chunked body's trailer section as it came, and Go's
   *   transport announces the trailers it forwards, so the upstream sees Trailer in both.
   * - TE is kept only as `trailers` (Go: `Te: trailers` when the client's TE listed it, else none).
   * - The fields a Connection line names go, except those that frame the message (hopByHop.ts).
   */
  #finishHopByHop (): void {
    if (this.#connClose && this.minor === 1 && !this.upgrade) this.#dropAll(this.#connLines.toArray())
    if (!this.upgrade) this.#dropAll(this.#upgradeLines)
    if (this.bodyKind !== BODY_CHUNKED) this.#dropAll(this.#trailerLines)
    if (this.#teTrailers && !this.#teKept) this.#extra = 'TE: trailers\r\n'
    if (this.#connNamesField) {
      const raw = this.raw
      const names = connectionNominees(connectionValues(raw, this.#connLines.toArray(), 0))
      if (names.size !== 0) this.#dropAll(nominatedLineSpans(raw, names, 0))
    }
  }

  #dropAll (spans: readonly number[]): void { this.#drop.addOnce(spans) }

  /** One header line: name b[ns, ne), value b[ne + 1, le), the line ends at `le` (its CR). */
  #header (b: Buffer, ns: number, ne: number, le: number): number {
    let a = ne + 1
    let z = le
    while (a < z && isOws(b[a])) a++
    while (z > a && isOws(b[z - 1])) z--
    const rel = ns - this.#start
    const relEnd = le + 2 - this.#start
    switch (ne - ns) {
      case 2:
        if (eqLowerAt(b, ns, 'te')) {
          if (!this.#teKept && z - a === 8 && eqLowerAt(b, a, 'trailers')) this.#teKept = true
          else {
            if ((listTokensAt(b, a, z, TRAILERS) & 1) !== 0) this.#teTrailers = true
            this.#drop.push(rel, relEnd)
          }
        }
        break
      case 4:
        if (eqLowerAt(b, ns, 'host')) {
          this.#hostCount++
          this.#hostLine = rel
          this.#hostLineEnd = relEnd
        }
        break
      case 6:
        if (eqLowerAt(b, ns, 'expect') && z - a === 12 && eqLowerAt(b, a, '100-continue')) this.expectContinue = true
        break
      case 7:
        if (eqLowerAt(b, ns, 'upgrade')) {
          this.#upgradeHeader = true
          this.#upgradeLines.push(rel, relEnd)
        } else if (eqLowerAt(b, ns, 'trailer')) {
          this.#trailerLines.push(rel, relEnd)
        }
        break
      case 9:
        if (eqLowerAt(b, ns, 'forwarded')) this.#hasForwarded = true
        break
      case 10:
        if (eqLowerAt(b, ns, 'connection')) {
          this.#connLines.push(rel, relEnd)
          const bits = listTokensAt(b, a, z, CONN_OPTIONS)
          if ((bits & CONN_CLOSE) !== 0) this.#connClose = true
          if ((bits & CONN_KEEP_ALIVE) !== 0) this.#connKeepAlive = true
          if ((bits & CONN_UPGRADE) !== 0) this.#connUpgrade = true
          if ((bits & CONN_NAMES_FIELD) !== 0) this.#connNamesField = true
        } else if (eqLowerAt(b, ns, 'keep-alive')) {
          this.#drop.push(rel, relEnd)
        } else if (eqLowerAt(b, ns, 'user-agent')) {
          if (startsWithAt(b, a, z, 'kube-probe/') || startsWithAt(b, a, z, 'Knative-Activator-Probe') || startsWithAt(b, a, z, 'Knative-Autoscaling-Probe')) this.healthCheck = true
        }
        break
      case 11:
        if (this.takeTraceparent && eqLowerAt(b, ns, 'traceparent')) {
          this.traceparent = b.toString('latin1', a, z)
          this.#drop.push(rel, relEnd)
        }
        break
      case 14:
        if (eqLowerAt(b, ns, 'content-length')) {
          this.#clCount++
          const n = digitsAt(b, a, z)
          if (n < 0) return this.#fail(400, 'malformed Content-Length')
          this.contentLength = n
        } else if (eqLowerAt(b, ns, 'k-network-hash')) {
          this.networkHash = b.toString('latin1', a, z)
        }
        break
      case 15:
        if (eqLowerAt(b, ns, 'k-kubelet-probe')) this.healthCheck = true
        else if (eqLowerAt(b, ns, 'k-network-probe')) this.networkProbe = b.toString('latin1', a, z)
        else if (eqLowerAt(b, ns, 'k-proxy-request')) this.proxied = z - a === 9 && startsWithAt(b, a, z, 'activator')
        else if (eqLowerAt(b, ns, 'k-original-host')) {
          // pkg/http/header RewriteHostOut: becomes Host, and is not passed on itself.
          this.#originalHost = b.toString('latin1', a, z)
          this.#drop.push(rel, relEnd)
        } else if (eqLowerAt(b, ns, 'x-forwarded-for')) {
          // Go's Header.Get returns the first value; the Forwarded shim reads only that one.
          if (this.#xff === '') this.#xff = b.toString('latin1', a, z)
        }
        break
      case 16:
        if (eqLowerAt(b, ns, 'x-forwarded-host') && this.#xfh === '') this.#xfh = b.toString('latin1', a, z)
        else if (eqLowerAt(b, ns, 'proxy-connection')) this.#drop.push(rel, relEnd)
        break
      case 18:
        if (eqLowerAt(b, ns, 'proxy-authenticate')) this.#drop.push(rel, relEnd)
        break
      case 17:
        if (eqLowerAt(b, ns, 'transfer-encoding')) {
          this.#teCount++
          const v = b.toString('latin1', a, z)
          this.#te = this.#te === '' ? v : this.#te + ',' + v
        } else if (eqLowerAt(b, ns, 'x-forwarded-proto') && this.#xfp === '') {
          this.#xfp = b.toString('latin1', a, z)
        }
        break
      case 19:
        if (eqLowerAt(b, ns, 'knative-serving-tag')) {
          if (this.routeTag === '') this.routeTag = b.toString('latin1', a, z)
        } else if (eqLowerAt(b, ns, 'proxy-authorization')) {
          this.#drop.push(rel, relEnd)
        }
        break
      case 29:
        if (eqLowerAt(b, ns, 'knative-serving-default-route') && this.defaultRoute === '') this.defaultRoute = b.toString('latin1', a, z)
        break
      case 24:
        // activator.RevisionHeaders: not for the user container.
        if (eqLowerAt(b, ns, 'knative-serving-revision')) this.#drop.push(rel, relEnd)
        break
      case 25:
        if (eqLowerAt(b, ns, 'knative-serving-namespace')) this.#drop.push(rel, relEnd)
        break
    }
    return 0
  }

  /**
   * The head to send upstream as bytes. On the common path (nothing to drop, no Forwarded to add) it is the
   * head as it came with `xffTail` (the X-Forwarded-For line and the final CRLF) in place of its final CRLF,
   * copied once into a pooled Buffer; otherwise it is `rewrite`'s string.
   */
  rewriteBuf (xffLine: string, xffTail: Buffer): Buffer | string {
    if (this.#drop.size !== 0 || this.#extra !== '' || (!this.#hasForwarded && (this.#xff !== '' || this.#xfp !== '' || this.#xfh !== ''))) return this.rewrite(xffLine)
    const n = this.#end - 2 - this.#start
    const out = Buffer.allocUnsafe(n + xffTail.length)
    this.#buf.copy(out, 0, this.#start, this.#end - 2)
    xffTail.copy(out, n)
    return out
  }

  /**
   * The head to send upstream: Knative's revision headers dropped, K-Original-Host turned into Host
   * (pkg/http/header RewriteHostOut), a Forwarded header built from X-Forwarded-* when there is none
   * (pkg/queue/forwarded.go ForwardedShimHandler), and the client address appended to X-Forwarded-For as
   * Go's httputil.ReverseProxy does, and the hop-by-hop lines #finishHopByHop marks removed. Everything else,
   * traceparent included, passes through as it came.
   */
  rewrite (xffLine: string): string {
    const raw = this.raw
    let extra = this.#extra + xffLine
    if (!this.#hasForwarded && (this.#xff !== '' || this.#xfp !== '' || this.#xfh !== '')) {
      extra = 'Forwarded: ' + forwardedFrom(this.#xff, this.#xfp, this.#xfh) + '\r\n' + extra
    }
    if (this.#drop.size === 0) return raw.slice(0, raw.length - 2) + extra + '\r\n'
    // Rare path: rebuild around the dropped lines, in order.
    const spans: number[] = this.#drop.toArray()
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
  /** Absolute spans [start, end) of the hop-by-hop lines `compact` takes out (see parseBuf), in order. */
  #drop = new SpanList()
  #unsorted = false

  /** Parses a complete head. `requestMethodHead`: the request was HEAD, so there is no body whatever the headers say. */
  parse (raw: string, requestMethodHead: boolean): number {
    return this.parseBuf(Buffer.from(raw, 'latin1'), 0, raw.length, requestMethodHead)
  }

  /** Parses the complete head b[s, e) in place. */
  parseBuf (b: Buffer, s: number, e: number, requestMethodHead: boolean): number {
    this.bodyKind = BODY_NONE
    this.contentLength = 0
    this.hasConnectionClose = false
    this.#drop.clear()
    this.#unsorted = false
    let lineEnd = s
    while (lineEnd < e && b[lineEnd] !== CR) { if (isCtl(b[lineEnd] as number)) return this.#fail(BAD_RESPONSE_BYTES); lineEnd++ }
    if (lineEnd + 1 >= e || b[lineEnd + 1] !== LF) return this.#fail(BAD_RESPONSE_BYTES)
    const n = lineEnd - s
    if (n < 12 || !startsWithAt(b, s, lineEnd, 'HTTP/1.') || (b[s + 12] !== 32 && n !== 12)) return this.#fail('malformed status line')
    const m = b[s + 7]
    if (m === 49) this.minor = 1
    else if (m === 48) this.minor = 0
    else return this.#fail('unsupported response version')
    if (b[s + 8] !== 32) return this.#fail('malformed status line')
    const d0 = b[s + 9] as number
    if (d0 < 49 || d0 > 53 || !isDigit(b[s + 10]) || !isDigit(b[s + 11])) return this.#fail('malformed status code')
    this.status = (d0 - 48) * 100 + ((b[s + 10] as number) - 48) * 10 + ((b[s + 11] as number) - 48)
    let clCount = 0
    let te = ''
    let keepAlive = false
    let namesField = false
    let connLines: number[] | null = null
    let trailerLines: number[] | null = null
    let pos = lineEnd + 2
    const headEnd = e - 2
    while (pos < headEnd) {
      const c0 = b[pos]
      if (c0 === 32 || c0 === 9) return this.#fail('obsolete line folding in the response')
      let le = pos
      let colon = -1
      while (le < e && b[le] !== CR) {
        const c = b[le] as number
        if (isCtl(c)) return this.#fail(BAD_RESPONSE_BYTES)
        if (c === 58 && colon < 0) colon = le
        le++
      }
      if (le + 1 >= e || b[le + 1] !== LF) return this.#fail(BAD_RESPONSE_BYTES)
      if (colon < 0) return this.#fail('response header line without a colon')
      if (colon === pos) return this.#fail('malformed response header name')
      for (let k = pos; k < colon; k++) if (TOKEN_CHAR[b[k] as number] !== 1) return this.#fail('malformed response header name')
      let a = colon + 1
      let z = le
      while (a < z && isOws(b[a])) a++
      while (z > a && isOws(b[z - 1])) z--
      // Hop-by-hop lines (hopByHop.ts) go to #drop; Upgrade is only ever read on a 101, which never comes here
      // as a final head.
      switch (colon - pos) {
        case 2:
          if (eqLowerAt(b, pos, 'te')) this.#drop.push(pos, le + 2)
          break
        case 7:
          if (eqLowerAt(b, pos, 'upgrade')) this.#drop.push(pos, le + 2)
          else if (eqLowerAt(b, pos, 'trailer')) (trailerLines ??= []).push(pos, le + 2)
          break
        case 10:
          if (eqLowerAt(b, pos, 'connection')) {
            const bits = listTokensAt(b, a, z, CONN_OPTIONS)
            if ((bits & CONN_CLOSE) !== 0) this.hasConnectionClose = true
            if ((bits & CONN_KEEP_ALIVE) !== 0) keepAlive = true
            if ((bits & CONN_NAMES_FIELD) !== 0) { namesField = true; (connLines ??= []).push(pos, le + 2) }
          } else if (eqLowerAt(b, pos, 'keep-alive')) {
            this.#drop.push(pos, le + 2)
          }
          break
        case 14:
          if (eqLowerAt(b, pos, 'content-length')) {
            clCount++
            const v = digitsAt(b, a, z)
            if (v < 0) return this.#fail('malformed Content-Length in the response')
            this.contentLength = v
          }
          break
        case 16:
          if (eqLowerAt(b, pos, 'proxy-connection')) this.#drop.push(pos, le + 2)
          break
        case 17:
          if (eqLowerAt(b, pos, 'transfer-encoding')) {
            const v = b.toString('latin1', a, z)
            te = te === '' ? v : te + ',' + v
          }
          break
        case 18:
          if (eqLowerAt(b, pos, 'proxy-authenticate')) this.#drop.push(pos, le + 2)
          break
        case 19:
          if (eqLowerAt(b, pos, 'proxy-authorization')) this.#drop.push(pos, le + 2)
          break
      }
      pos = le + 2
    }
    this.reusable = !this.hasConnectionClose && (this.minor === 1 || keepAlive)
    if (namesField && connLines !== null) {
      const names = connectionNominees(connectionValues(b.toString('latin1', s, e), connLines, s))
      if (names.size !== 0) this.#addDrops(nominatedLineSpans(b.toString('latin1', s, e), names, s))
    }
    const r = this.#frame(requestMethodHead, te, clCount)
    // Trailer announces a chunked body's trailer section, which passes through; without one it is hop-by-hop.
    if (r === 0 && trailerLines !== null && (this.bodyKind as BodyKind) !== BODY_CHUNKED) this.#addDrops(trailerLines)
    return r
  }

  /** The body's framing (RFC 9112 §6.3) from what the header lines said. */
  #frame (requestMethodHead: boolean, te: string, clCount: number): number {
    const st = this.status
    if (requestMethodHead || (st >= 100 && st < 200) || st === 204 || st === 304) return 0
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

  /** Adds spans out of order (the rare paths), once each. */
  #addDrops (spans: readonly number[]): void {
    this.#drop.addOnce(spans)
    this.#unsorted = true
  }

  /** The head parsed last has hop-by-hop lines for `compact` to take out. */
  get hasHopByHop (): boolean { return this.#drop.size !== 0 }

  /**
   * Takes the hop-by-hop lines out of the head b[s, ...) parseBuf read, in place: the bytes before each are
   * moved up against the next kept bytes (a memmove of the head's first lines, no allocation), so the head
   * now starts at the returned index and still ends where it did, next to the body. Go's ReverseProxy
   * removes the same fields from what it sends back (hopByHop.ts): above all the Keep-Alive line Node's
   * http server adds to every response, which told our clients the upstream's idle timeout (5 s) for a
   * connection that is ours.
   */
  compact (b: Buffer, s: number): number {
    const d = this.#drop
    const n = d.size
    if (n === 0) return s
    if (this.#unsorted) { d.sort(); this.#unsorted = false }
    // The bytes after the last span stay; each kept stretch before it moves up against what follows.
    let w = d.end(n - 1)
    for (let i = n - 1; i >= 0; i--) {
      const segEnd = d.start(i)
      const segStart = i === 0 ? s : d.end(i - 1)
      w -= segEnd - segStart
      if (segEnd > segStart) b.copyWithin(w, segStart, segEnd) // rightward over itself: a memmove
    }
    return w
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
