import net from 'node:net'
import t from 'tap'
import { sleep, startProxyInProcess, startUpstream } from './helpers.js'

// A response far larger than loopback's socket buffers, to a client that reads nothing for a while: the
// proxy's writes to the client back up (proxy/directWrite.ts queues them in libuv), the upstream is paused
// rather than buffered in the proxy, and once the client reads, everything arrives in order and the
// connection goes on with its next request.
t.test('a client that stops reading holds the upstream back; its response arrives whole, then the next one', async (t) => {
  const up = await startUpstream(t)
  const px = await startProxyInProcess(t, up.port)
  const n = 24 * 1024 * 1024
  const s = net.connect(px.ports.serving, '127.0.0.1')
  await new Promise<void>((resolve) => s.once('connect', () => resolve()))
  t.teardown(() => s.destroy())
  s.pause()
  s.write(`GET /big?n=${n} HTTP/1.1\r\nHost: a\r\n\r\nGET /status?code=201 HTTP/1.1\r\nHost: a\r\n\r\n`)
  await sleep(400)
  const conns = [...px.queue.connections]
  t.equal(conns.length, 1)
  t.equal(conns[0]?.socket.writableLength, 0, 'nothing is buffered in the Writable: what waits is in libuv')
  const upConns = px.ctx.pool.size
  t.equal(upConns, 1, 'one upstream connection')
  const chunks: Buffer[] = []
  let total = 0
  let tail = ''
  const done = new Promise<void>((resolve) => {
    s.on('data', (d: Buffer) => {
      chunks.push(d)
      total += d.length
      tail = (tail + d.toString('latin1')).slice(-64)
      if (tail.endsWith('status 201')) resolve()
    })
  })
  s.resume()
  await done
  const all = Buffer.concat(chunks)
  const headEnd = all.indexOf('\r\n\r\n') + 4
  t.match(all.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 200 /)
  const body = all.subarray(headEnd, headEnd + n)
  t.equal(body.length, n, 'the whole body arrived')
  let bad = -1
  for (let i = 0; i < body.length; i++) if (body[i] !== 0x61) { bad = i; break }
  t.equal(bad, -1, 'every byte as the upstream sent it')
  t.match(all.subarray(headEnd + n).toString('latin1'), /^HTTP\/1\.1 201 [^]*status 201$/, 'the pipelined request was answered after it')
  t.ok(total > n)
})
