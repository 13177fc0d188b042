import t from 'tap'
import { encodeStat, MAX_STAT_BYTES } from '../../proxy/statProto.js'
import { decodeStat, StatType } from './statDecoder.js'

t.test('hand encoder matches protobufjs decoding, field by field', async (t) => {
  const cases = [
    { podName: 'hello-00001-deployment-5d8f-abcde', averageConcurrentRequests: 1.5, averageProxiedConcurrentRequests: 0.25, requestCount: 42, proxiedRequestCount: 7, processUptime: 12.75 },
    { podName: 'p', averageConcurrentRequests: 0, averageProxiedConcurrentRequests: 0, requestCount: 0, proxiedRequestCount: 0, processUptime: 0.001 },
    { podName: '', averageConcurrentRequests: 1e-9, averageProxiedConcurrentRequests: 123456.789, requestCount: 1e6, proxiedRequestCount: 3, processUptime: 86400 * 365 }
  ]
  for (const c of cases) {
    const got = decodeStat(encodeStat(c))
    const want: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(c)) if (v !== 0 && v !== '') want[k] = v
    t.same(got, want, c.podName)
    // And the reverse: with every field set, what protobufjs encodes we encode byte for byte
    // (protobufjs writes explicit zeros, gogo-protobuf and we omit them, so only compare full messages).
    if (Object.keys(want).length === 6) t.same(Buffer.from(encodeStat(c)), Buffer.from(StatType.encode(StatType.fromObject(c)).finish()))
  }
})

t.test('the body never exceeds the 336 bytes the scraper reads', async (t) => {
  const long = 'a'.repeat(400)
  const buf = encodeStat({ podName: long, averageConcurrentRequests: 1.1, averageProxiedConcurrentRequests: 2.2, requestCount: 3.3, proxiedRequestCount: 4.4, processUptime: 5.5 })
  t.ok(buf.length <= MAX_STAT_BYTES, `${buf.length} bytes`)
  t.equal((decodeStat(buf).podName as string).length, 253)
  const dns = encodeStat({ podName: 'b'.repeat(253), averageConcurrentRequests: 1, averageProxiedConcurrentRequests: 1, requestCount: 1, proxiedRequestCount: 1, processUptime: 1 })
  t.equal(dns.length, 3 + 253 + 45)
})
