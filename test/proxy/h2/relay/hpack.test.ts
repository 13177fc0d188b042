import t from 'tap'
import { HpackDecoder } from '../../../../proxy/h2/relay/hpackDecoder.js'
import { encodeHeaders } from '../../../../proxy/h2/relay/hpackEncoder.js'
import { huffmanDecode, huffmanEncode } from '../../../../proxy/h2/relay/huffman.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')
const pairs = (flat: string[]): Array<[string, string]> => {
  const out: Array<[string, string]> = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i] as string, flat[i + 1] as string])
  return out
}

// RFC 7541 Appendix C: the specification's own examples.
t.test('C.2: literal representations', async (t) => {
  let d = new HpackDecoder()
  t.same(pairs(d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))), [['custom-key', 'custom-header']])
  t.equal(d.tableSize, 55)
  d = new HpackDecoder()
  t.same(pairs(d.decode(hex('040c 2f73 616d 706c 652f 7061 7468'))), [[':path', '/sample/path']])
  t.equal(d.tableSize, 0, 'without indexing: table untouched')
  d = new HpackDecoder()
  t.same(pairs(d.decode(hex('1008 7061 7373 776f 7264 0673 6563 7265 74'))), [['password', 'secret']])
  t.equal(d.tableSize, 0, 'never indexed: table untouched')
  t.same(pairs(new HpackDecoder().decode(hex('82'))), [[':method', 'GET']])
})

const REQ1 = [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]
const REQ2 = [...REQ1, ['cache-control', 'no-cache']]
const REQ3 = [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]

t.test('C.3: requests without Huffman, one decoder across blocks', async (t) => {
  const d = new HpackDecoder()
  t.same(pairs(d.decode(hex('8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'))), REQ1)
  t.equal(d.tableSize, 57)
  t.same(pairs(d.decode(hex('8286 84be 5808 6e6f 2d63 6163 6865'))), REQ2)
  t.equal(d.tableSize, 110)
  t.same(pairs(d.decode(hex('8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65'))), REQ3)
  t.equal(d.tableSize, 164)
  t.equal(d.tableEntries, 3)
})

t.test('C.4: requests with Huffman', async (t) => {
  const d = new HpackDecoder()
  t.same(pairs(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))), REQ1)
  t.same(pairs(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf'))), REQ2)
  t.same(pairs(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))), REQ3)
  t.equal(d.tableSize, 164)
})

const DATE1 = 'Mon, 21 Oct 2013 20:13:21 GMT'
const DATE2 = 'Mon, 21 Oct 2013 20:13:22 GMT'
const LOC = 'https://www.example.com'
const RES1 = [[':status', '302'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]]
const RES2 = [[':status', '307'], ['cache-control', 'private'], ['date', DATE1], ['location', LOC]]
const RES3 = [[':status', '200'], ['cache-control', 'private'], ['date', DATE2], ['location', LOC], ['content-encoding', 'gzip'], ['set-cookie', 'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1']]

t.test('C.5: responses without Huffman, a 256-octet table with eviction', async (t) => {
  const d = new HpackDecoder(256)
  t.same(pairs(d.decode(hex('4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d'))), RES1)
  t.equal(d.tableSize, 222)
  t.same(pairs(d.decode(hex('4803 3330 37c1 c0bf'))), RES2)
  t.equal(d.tableSize, 222, ':status 302 evicted for :status 307')
  t.same(pairs(d.decode(hex('88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31'))), RES3)
  t.equal(d.tableSize, 215)
  t.equal(d.tableEntries, 3)
})

t.test('C.6: responses with Huffman, a 256-octet table with eviction', async (t) => {
  const d = new HpackDecoder(256)
  t.same(pairs(d.decode(hex('4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3'))), RES1)
  t.same(pairs(d.decode(hex('4883 640e ffc1 c0bf'))), RES2)
  t.same(pairs(d.decode(hex('88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0 03ed 4ee5 b106 3d50 07'))), RES3)
  t.equal(d.tableSize, 215)
})

t.test('bad blocks are COMPRESSION_ERRORs', async (t) => {
  t.throws(() => new HpackDecoder().decode(hex('80')), { name: 'HpackError' }, 'index 0')
  t.throws(() => new HpackDecoder().decode(hex('be')), { name: 'HpackError' }, 'dynamic index with an empty table')
  t.throws(() => new HpackDecoder(4096).decode(hex('3fe21f')), { name: 'HpackError' }, 'size update over SETTINGS_HEADER_TABLE_SIZE')
  t.throws(() => new HpackDecoder().decode(hex('82 3f01')), { name: 'HpackError' }, 'size update after a field')
  t.throws(() => new HpackDecoder().decode(hex('040c 2f73')), { name: 'HpackError' }, 'truncated string')
  t.throws(() => new HpackDecoder().decode(hex('ff ffffffff0f')), { name: 'HpackError' }, 'integer overflow')
  // 'a' is 00011 (5 bits); three bits of 0 padding is not a prefix of EOS.
  t.throws(() => huffmanDecode(Buffer.from([0x18]), 0, 1), { name: 'HuffmanError' }, 'padding of zeros')
  t.throws(() => huffmanDecode(Buffer.from([0x1f, 0xff]), 0, 2), { name: 'HuffmanError' }, 'padding over 7 bits')
  t.throws(() => huffmanDecode(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0, 4), { name: 'HuffmanError' }, 'EOS inside')
  // A size update to 0 empties the table; a later size update within the limit is fine.
  const d = new HpackDecoder()
  d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572'))
  t.equal(d.tableEntries, 1)
  t.same(d.decode(hex('20 3f e1 1f 82')), [':method', 'GET'])
  t.equal(d.tableEntries, 0)
})

t.test('a header list over the limit is decoded (the table stays in step) and flagged, not kept', async (t) => {
  const d = new HpackDecoder(4096, 100)
  const big = d.decode(hex('400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572 82 4001 78 46' + '61'.repeat(70)))
  t.ok(d.tooLarge)
  t.ok(d.listBytes > 100)
  t.same(big.slice(0, 4), ['custom-key', 'custom-header', ':method', 'GET'])
  t.equal(d.tableEntries, 2, 'every incremental field entered the table')
  d.decode(hex('bf'))
  t.notOk(d.tooLarge, 'the next block is judged on its own')
})

t.test('Huffman round trip over every octet; the encoder round-trips through the decoder', async (t) => {
  const all = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('')
  const enc = huffmanEncode(all)
  t.equal(huffmanDecode(enc, 0, enc.length), all)
  t.equal(huffmanEncode('www.example.com').toString('hex'), 'f1e3c2e5f23a6ba0ab90f4ff', 'RFC 7541 C.4.1')
  const fields = [':status', '200', 'content-type', 'application/grpc', 'grpc-status', '0', 'x-long', 'v'.repeat(300), 'date', DATE1, ':method', 'POST']
  const out = Buffer.alloc(1024)
  const n = encodeHeaders(fields, out, 0)
  t.ok(n > 0)
  t.same(new HpackDecoder().decode(out, 0, n), fields)
  t.equal(out[0], 0x88, ':status 200 is static index 8')
  t.equal(out[1], 0x1f, 'content-type (static name 31) as a never-indexed literal: 0001 1111, then 31 - 15')
  t.equal(out[2], 16)
  t.equal(encodeHeaders(fields, Buffer.alloc(10), 0), -1, 'a buffer too small is reported, not overrun')
  const d = new HpackDecoder()
  d.decode(out, 0, n)
  t.equal(d.tableEntries, 0, 'the encoder never adds to the peer\'s table')
})

t.test('a long run of insertions evicts in order and indexes stay right', async (t) => {
  // 200-octet table: each entry 'k' + 'vNNN' (1 + 4 + 32 = 37 octets), so five fit; newest is index 62.
  const d = new HpackDecoder(200)
  for (let i = 0; i < 500; i++) {
    const v = String(1000 + i).slice(1)
    const block = Buffer.concat([Buffer.from([0x40, 1]), Buffer.from('k'), Buffer.from([4]), Buffer.from('v' + v)])
    t.same(d.decode(block), ['k', 'v' + v])
    if (i >= 4 && i % 97 === 0) {
      t.same(d.decode(Buffer.from([0xbe, 0xc2])), ['k', 'v' + v, 'k', 'v' + String(1000 + i - 4).slice(1)], `after ${i + 1} insertions`)
      t.throws(() => d.decode(Buffer.from([0xc3])), { name: 'HpackError' }, 'the sixth newest is gone')
    }
  }
  t.equal(d.tableEntries, 5)
  t.equal(d.tableSize, 185)
})
