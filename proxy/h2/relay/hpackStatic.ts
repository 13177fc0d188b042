/** The HPACK static table (RFC 7541 Appendix A), index 1..61; entry 0 is unused. */
export const STATIC_TABLE: ReadonlyArray<readonly [string, string]> = [
  ['', ''],
  [':authority', ''], [':method', 'GET'], [':method', 'POST'], [':path', '/'], [':path', '/index.html'],
  [':scheme', 'http'], [':scheme', 'https'], [':status', '200'], [':status', '204'], [':status', '206'],
  [':status', '304'], [':status', '400'], [':status', '404'], [':status', '500'], ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'], ['accept-language', ''], ['accept-ranges', ''], ['accept', ''],
  ['access-control-allow-origin', ''], ['age', ''], ['allow', ''], ['authorization', ''], ['cache-control', ''],
  ['content-disposition', ''], ['content-encoding', ''], ['content-language', ''], ['content-length', ''],
  ['content-location', ''], ['content-range', ''], ['content-type', ''], ['cookie', ''], ['date', ''], ['etag', ''],
  ['expect', ''], ['expires', ''], ['from', ''], ['host', ''], ['if-match', ''], ['if-modified-since', ''],
  ['if-none-match', ''], ['if-range', ''], ['if-unmodified-since', ''], ['last-modified', ''], ['link', ''],
  ['location', ''], ['max-forwards', ''], ['proxy-authenticate', ''], ['proxy-authorization', ''], ['range', ''],
  ['referer', ''], ['refresh', ''], ['retry-after', ''], ['server', ''], ['set-cookie', ''],
  ['strict-transport-security', ''], ['transfer-encoding', ''], ['user-agent', ''], ['vary', ''], ['via', ''],
  ['www-authenticate', '']
]

/** Lowest static index per name. */
export const STATIC_NAME_INDEX = new Map<string, number>()
/** Static index per name, then value, for the entries that carry a value (no string built per lookup). */
export const STATIC_PAIR_INDEX = new Map<string, Map<string, number>>()
for (let i = 1; i < STATIC_TABLE.length; i++) {
  const [n, v] = STATIC_TABLE[i] as readonly [string, string]
  if (!STATIC_NAME_INDEX.has(n)) STATIC_NAME_INDEX.set(n, i)
  if (v === '') continue
  let m = STATIC_PAIR_INDEX.get(n)
  if (m === undefined) { m = new Map(); STATIC_PAIR_INDEX.set(n, m) }
  m.set(v, i)
}
