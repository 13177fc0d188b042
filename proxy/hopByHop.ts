/**
 * Hop-by-hop fields (RFC 9110 §7.6.1) as Go's httputil.ReverseProxy, and so Knative's queue-proxy, removes them
 * from what it forwards either way: its fixed list (reverseproxy.go hopHeaders) and every field a Connection
 * header names. HTTP/1.1 (http1.ts) and HTTP/2 (h2Headers.ts, relayHeaders.ts) read the list from here.
 */
export const HOP_BY_HOP_FIELDS: readonly string[] = [
  'connection', 'proxy-connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade'
]

/**
 * Names a Connection header may list that the HTTP/1.1 path never drops on that account: connection options
 * (close, keep-alive, upgrade), the fields with a rule of their own (TE kept only as `trailers`, Trailer with a
 * chunked body, Upgrade on an upgrade), and the fields that frame the message. Go keeps Host, Content-Length and
 * Transfer-Encoding outside its Header map, so a client naming them cannot unframe what it forwards; we forward
 * the head's bytes, so dropping one would let `Connection: content-length` smuggle a body past the user container.
 */
const NOT_NOMINATED = new Set([
  'close', 'keep-alive', 'upgrade', 'te', 'trailer', 'connection', 'host', 'content-length', 'transfer-encoding'
])

/** The field names (lowercase) the Connection header values `values` name, minus NOT_NOMINATED. */
export function connectionNominees (values: readonly string[]): Set<string> {
  const out = new Set<string>()
  for (const v of values) {
    for (const part of v.split(',')) {
      const name = part.trim().toLowerCase()
      if (name !== '' && !NOT_NOMINATED.has(name)) out.add(name)
    }
  }
  return out
}

/**
 * The spans [start, end) (end past the line's CRLF) of the header lines in `head` (a whole head, start line to
 * the final CRLF) whose name is in `names`, offset by `base`, in order.
 */
export function nominatedLineSpans (head: string, names: ReadonlySet<string>, base: number): number[] {
  const spans: number[] = []
  let pos = head.indexOf('\r\n') + 2
  const headEnd = head.length - 2
  while (pos < headEnd) {
    const e = head.indexOf('\r\n', pos)
    const colon = head.indexOf(':', pos)
    if (e < 0 || colon < 0 || colon > e) break
    if (names.has(head.slice(pos, colon).toLowerCase())) spans.push(base + pos, base + e + 2)
    pos = e + 2
  }
  return spans
}

/** The value of each Connection line among the spans [start, end) of `head`, for connectionNominees. */
export function connectionValues (head: string, spans: readonly number[], base: number): string[] {
  const out: string[] = []
  for (let i = 0; i < spans.length; i += 2) {
    const line = head.slice((spans[i] as number) - base, (spans[i + 1] as number) - base - 2)
    out.push(line.slice(line.indexOf(':') + 1))
  }
  return out
}

/**
 * What the HTTP/2 paths drop from the fields they forward either way: the list above less TE (kept as
 * `trailers`, which gRPC sends) and Trailer (legal in HTTP/2, announcing the trailers that pass through),
 * plus HTTP2-Settings, which belongs to an h2c upgrade's hop (RFC 9113 §8.2.2).
 */
export const H2_DROPPED_FIELDS: readonly string[] = [
  ...HOP_BY_HOP_FIELDS.filter((name) => name !== 'te' && name !== 'trailer'), 'http2-settings'
]
