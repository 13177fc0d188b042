/**
 * A hand encoder for the autoscaler's `Stat` message (knative/serving pkg/autoscaler/metrics/stat.proto):
 *
 *   1 pod_name string, 2 average_concurrent_requests double, 3 average_proxied_concurrent_requests double,
 *   4 request_count double, 5 proxied_request_count double, 6 process_uptime double, 7 timestamp int64.
 *
 * Proto3 omits fields at their default (empty string, 0), as gogo-protobuf's Marshal does; field 7 is
 * never set by queue-proxy. test/proxy/statProto.test.ts decodes our bytes with protobufjs to check this.
 * The scraper reads at most 336 bytes (stats_scraper.go: 6*10+256+20), so the pod name is capped at
 * 253 bytes (a DNS-1123 subdomain is at most 253 characters, and a pod name is one).
 */
export interface Stat {
  podName: string
  averageConcurrentRequests: number
  averageProxiedConcurrentRequests: number
  requestCount: number
  proxiedRequestCount: number
  processUptime: number
}

export const MAX_STAT_BYTES = 336
const MAX_POD_NAME_BYTES = 253

function writeDouble (buf: Buffer, at: number, tag: number, v: number): number {
  if (v === 0) return at
  buf[at] = tag
  buf.writeDoubleLE(v, at + 1)
  return at + 9
}

export function encodeStat (s: Stat): Buffer {
  let name = Buffer.from(s.podName, 'utf8')
  if (name.length > MAX_POD_NAME_BYTES) name = name.subarray(0, MAX_POD_NAME_BYTES)
  const buf = Buffer.allocUnsafe(3 + name.length + 5 * 9)
  let at = 0
  if (name.length > 0) {
    buf[at++] = (1 << 3) | 2
    // Varint length: 253 needs two bytes.
    if (name.length < 0x80) {
      buf[at++] = name.length
    } else {
      buf[at++] = (name.length & 0x7f) | 0x80
      buf[at++] = name.length >> 7
    }
    name.copy(buf, at)
    at += name.length
  }
  // Wire type 1 (64-bit) for doubles: tag = field << 3 | 1.
  at = writeDouble(buf, at, (2 << 3) | 1, s.averageConcurrentRequests)
  at = writeDouble(buf, at, (3 << 3) | 1, s.averageProxiedConcurrentRequests)
  at = writeDouble(buf, at, (4 << 3) | 1, s.requestCount)
  at = writeDouble(buf, at, (5 << 3) | 1, s.proxiedRequestCount)
  at = writeDouble(buf, at, (6 << 3) | 1, s.processUptime)
  return buf.subarray(0, at)
}
