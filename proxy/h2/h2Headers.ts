import type http2 from 'node:http2'
import { forwardedFrom } from '../http1.js'
import { H2_DROPPED_FIELDS } from '../hopByHop.js'

/**
 * What the queue-proxy's handler chain reads from, and changes in, an HTTP/2 request's headers: the same
 * rules as http1.ts's RequestHead, on node:http2's header object (names arrive lower-cased).
 */
export interface H2RequestInfo {
  /** kube-probe/ UA, K-Kubelet-Probe, or an activator or autoscaling probe UA (knative/pkg network/handlers/drain.go). */
  healthCheck: boolean
  /** Value of K-Network-Probe, or ''. */
  networkProbe: string
  networkHash: string
  /** K-Proxy-Request: activator. */
  proxied: boolean
}

function first (v: string | string[] | undefined): string {
  if (v === undefined) return ''
  return typeof v === 'string' ? v : (v[0] ?? '')
}

export function readRequestInfo (h: http2.IncomingHttpHeaders): H2RequestInfo {
  const ua = first(h['user-agent'])
  return {
    healthCheck: h['k-kubelet-probe'] !== undefined || ua.startsWith('kube-probe/') || ua.startsWith('Knative-Activator-Probe') || ua.startsWith('Knative-Autoscaling-Probe'),
    networkProbe: first(h['k-network-probe']),
    networkHash: first(h['k-network-hash']),
    proxied: first(h['k-proxy-request']) === 'activator'
  }
}

/** Hop-by-hop and connection-specific fields (hopByHop.ts) and Knative's own headers that the user container never sees. */
const DROP = new Set([...H2_DROPPED_FIELDS, 'k-original-host', 'knative-serving-revision', 'knative-serving-namespace'])

/**
 * The headers to send upstream as HTTP/2: pseudo-headers kept, K-Original-Host turned into :authority
 * (pkg/http/header RewriteHostOut), Knative's revision headers dropped, a Forwarded header built from
 * X-Forwarded-* when there is none (pkg/queue/forwarded.go), and the client address appended to
 * X-Forwarded-For as Go's httputil.ReverseProxy does. `te` is kept only as `trailers` (gRPC sends it).
 */
export function upstreamHeaders (h: http2.IncomingHttpHeaders, clientIp: string): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {}
  for (const name of Object.keys(h)) {
    if (DROP.has(name)) continue
    const v = h[name]
    if (v === undefined) continue
    if (name === 'te') { if (first(v).trim().toLowerCase() === 'trailers') out.te = 'trailers'; continue }
    out[name] = v
  }
  const originalHost = first(h['k-original-host'])
  if (originalHost !== '') out[':authority'] = originalHost
  const xff = first(h['x-forwarded-for'])
  const xfp = first(h['x-forwarded-proto'])
  const xfh = first(h['x-forwarded-host'])
  if (h.forwarded === undefined && (xff !== '' || xfp !== '' || xfh !== '')) out.forwarded = forwardedFrom(xff, xfp, xfh)
  if (clientIp !== '') {
    const prior = h['x-forwarded-for']
    const joined = prior === undefined ? '' : (typeof prior === 'string' ? prior : prior.join(', '))
    out['x-forwarded-for'] = joined === '' ? clientIp : joined + ', ' + clientIp
  }
  return out
}

/** Response headers passed back as they came, minus the connection-specific ones node:http2 refuses. */
export function downstreamHeaders (h: http2.IncomingHttpHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {}
  for (const name of Object.keys(h)) {
    if (DROP.has(name)) continue
    const v = h[name]
    if (v !== undefined) out[name] = v
  }
  return out
}
