import { forwardedFrom } from '../../http1.js'
import { H2_DROPPED_FIELDS } from '../../hopByHop.js'
import type { H2RequestInfo } from '../h2Headers.js'

/**
 * h2Headers.ts's rules on the relay engine's header lists: flat arrays [name0, value0, name1, value1, ...]
 * as the HPACK decoder gives them (names lower-case on the wire, repeated fields kept, in order).
 */

/** The first value of `name`, or ''. */
export function field (fields: readonly string[], name: string): string {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return fields[i + 1] as string
  return ''
}

export function hasField (fields: readonly string[], name: string): boolean {
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === name) return true
  return false
}

/** The same reading as h2Headers.ts readRequestInfo. */
export function requestInfoOf (fields: readonly string[]): H2RequestInfo {
  let ua = ''
  let kubelet = false
  let probe = ''
  let hash = ''
  let proxied = ''
  let seenUa = false
  let seenProbe = false
  let seenHash = false
  let seenProxied = false
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i] as string
    // Pseudo-headers and most fields start with another letter: one char test skips them.
    const c = n.charCodeAt(0)
    if (c !== 0x75 && c !== 0x6b) continue
    const v = fields[i + 1] as string
    if (n === 'user-agent') { if (!seenUa) { ua = v; seenUa = true } } else if (n === 'k-kubelet-probe') kubelet = true
    else if (n === 'k-network-probe') { if (!seenProbe) { probe = v; seenProbe = true } } else if (n === 'k-network-hash') { if (!seenHash) { hash = v; seenHash = true } } else if (n === 'k-proxy-request') { if (!seenProxied) { proxied = v; seenProxied = true } }
  }
  return {
    healthCheck: kubelet || ua.startsWith('kube-probe/') || ua.startsWith('Knative-Activator-Probe') || ua.startsWith('Knative-Autoscaling-Probe'),
    networkProbe: probe,
    networkHash: hash,
    proxied: proxied === 'activator'
  }
}

/** Hop-by-hop and connection-specific fields (hopByHop.ts) and Knative's own headers that the user container never sees. */
const DROP = new Set([...H2_DROPPED_FIELDS, 'k-original-host', 'knative-serving-revision', 'knative-serving-namespace'])

/**
 * h2Headers.ts upstreamHeaders on a flat list: K-Original-Host becomes :authority, Knative's revision
 * headers dropped, Forwarded built from X-Forwarded-* when absent, the client address appended to
 * X-Forwarded-For, `te` kept only as `trailers`; `traceparent` (tracing on) replaces the client's.
 */
export function upstreamFields (fields: readonly string[], clientIp: string, traceparent: string | null): string[] {
  const out: string[] = []
  let xff: string[] | null = null
  let originalHost = ''
  let xfp = ''
  let xfh = ''
  let forwarded = false
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string
    const v = fields[i + 1] as string
    if (name === 'x-forwarded-for') { (xff ??= []).push(v); continue }
    if (DROP.has(name)) { if (name === 'k-original-host' && originalHost === '') originalHost = v; continue }
    if (name === 'te') { if (v.trim().toLowerCase() === 'trailers') out.push('te', 'trailers'); continue }
    if (name === 'traceparent' && traceparent !== null) continue
    if (name === 'forwarded') forwarded = true
    else if (name === 'x-forwarded-proto') { if (xfp === '') xfp = v } else if (name === 'x-forwarded-host') { if (xfh === '') xfh = v }
    out.push(name, v)
  }
  if (originalHost !== '') {
    let set = false
    for (let i = 0; i < out.length; i += 2) if (out[i] === ':authority') { out[i + 1] = originalHost; set = true; break }
    if (!set) out.unshift(':authority', originalHost)
  }
  const xff0 = xff === null ? '' : xff[0] as string
  if (!forwarded && (xff0 !== '' || xfp !== '' || xfh !== '')) out.push('forwarded', forwardedFrom(xff0, xfp, xfh))
  if (clientIp !== '') {
    const joined = xff === null ? '' : xff.join(', ')
    out.push('x-forwarded-for', joined === '' ? clientIp : joined + ', ' + clientIp)
  } else if (xff !== null) {
    for (const v of xff) out.push('x-forwarded-for', v)
  }
  if (traceparent !== null) out.push('traceparent', traceparent)
  return out
}

/** Response headers and trailers passed back as they came, minus the connection-specific ones. */
export function downstreamFields (fields: readonly string[]): string[] {
  let drop = false
  for (let i = 0; i < fields.length; i += 2) if (DROP.has(fields[i] as string)) { drop = true; break }
  if (!drop) return fields as string[]
  const out: string[] = []
  for (let i = 0; i < fields.length; i += 2) if (!DROP.has(fields[i] as string)) out.push(fields[i] as string, fields[i + 1] as string)
  return out
}

/** A request head node:http2 would refuse as malformed (RFC 9113 §8.3.1): a stream error PROTOCOL_ERROR. */
export function malformedRequest (fields: readonly string[]): boolean {
  let method = ''
  let path = false
  let regular = false
  for (let i = 0; i < fields.length; i += 2) {
    const n = fields[i] as string
    if (n.charCodeAt(0) === 0x3a) {
      if (regular) return true
      if (n === ':method') method = fields[i + 1] as string
      else if (n === ':path') path = (fields[i + 1] as string) !== ''
      else if (n !== ':scheme' && n !== ':authority' && n !== ':protocol') return true
    } else {
      regular = true
      if (n !== n.toLowerCase()) return true
    }
  }
  return method === '' || (method !== 'CONNECT' && !path)
}
