import net from 'node:net'
import crypto from 'node:crypto'
import t, { type Test } from 'tap'
import { writeDirect } from '../../proxy/directWrite.js'

/** A connected pair on loopback: `a` is ours (we write), `b` the peer, paused until the test reads. */
async function pair (t: Test): Promise<{ a: net.Socket; b: net.Socket }> {
  let b: net.Socket | undefined
  const server = net.createServer({ pauseOnConnect: true }, (s) => { b = s })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const a = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await new Promise<void>((resolve) => a.once('connect', () => resolve()))
  while (b === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
  const peer = b
  t.teardown(() => { a.destroy(); peer.destroy(); server.close() })
  return { a, b: peer }
}

function readAll (s: net.Socket): Promise<Buffer> {
  const parts: Buffer[] = []
  s.on('data', (d: Buffer) => parts.push(d))
  s.resume()
  return new Promise((resolve) => s.once('end', () => resolve(Buffer.concat(parts))))
}

t.test('small writes complete at once; order with socket.write() and end() is kept', async (t) => {
  const { a, b } = await pair(t)
  let drained = 0
  t.equal(writeDirect(a, Buffer.from('one,'), () => { drained++ }), true, 'a small write goes to the kernel at once')
  a.write('two,')
  t.equal(writeDirect(a, Buffer.from('three,'), () => { drained++ }), true)
  a.end('four')
  t.equal((await readAll(b)).toString(), 'one,two,three,four', 'bytes arrive in call order, and end() waits for them')
  t.equal(drained, 0, 'onDrained is not called for writes that completed at once')
})

t.test('a write the peer cannot take yet is queued in libuv; onDrained runs once it has gone, and the bytes are intact', async (t) => {
  const { a, b } = await pair(t)
  // Larger than loopback's socket buffers, so some of it must wait while the peer does not read.
  const big = crypto.randomBytes(16 * 1024 * 1024)
  let drained = 0
  const onDrained = (): void => { drained++ }
  const r1 = writeDirect(a, big, onDrained)
  t.equal(r1, false, 'returns false when bytes wait')
  // A second write behind a queued one must queue behind it, not overtake it.
  const tail = Buffer.from('tail')
  writeDirect(a, tail, onDrained)
  a.write('-and-end')
  a.end()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(drained, 0, 'not drained while the peer reads nothing')
  const got = await readAll(b)
  t.equal(got.length, big.length + tail.length + 8, 'every byte arrives')
  t.ok(got.subarray(0, big.length).equals(big), 'the queued Buffer arrives unchanged')
  t.equal(got.subarray(big.length).toString(), 'tail-and-end', 'later writes follow it')
  t.ok(drained >= 1, 'onDrained ran after the queue emptied')
})

t.test('a corked or connecting socket goes through socket.write(), which keeps its order', async (t) => {
  const { a, b } = await pair(t)
  a.cork()
  a.write('x')
  t.equal(writeDirect(a, Buffer.from('y'), () => {}), true, 'buffered in the Writable below its high-water mark')
  a.uncork()
  a.end()
  t.equal((await readAll(b)).toString(), 'xy')
  const server = net.createServer((s) => { s.pipe(s) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  t.ok(c.connecting, 'still connecting')
  writeDirect(c, Buffer.from('early'), () => {})
  const echo = await new Promise<string>((resolve) => c.once('data', (d: Buffer) => resolve(d.toString())))
  t.equal(echo, 'early', 'a write made while connecting is sent once connected')
  c.destroy()
})

t.test('a write to a socket whose peer is gone destroys it with the error', async (t) => {
  let b: net.Socket | undefined
  const server = net.createServer({ pauseOnConnect: true }, (s) => { b = s })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  // Half-open allowed, so the peer's FIN alone does not close `a`: the write must find out.
  const a = net.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true })
  await new Promise<void>((resolve) => a.once('connect', () => resolve()))
  while (b === undefined) await new Promise((resolve) => setTimeout(resolve, 5))
  const errors: Error[] = []
  a.on('error', (err) => errors.push(err))
  const closed = new Promise<void>((resolve) => a.once('close', () => resolve()))
  b.destroy()
  await new Promise((resolve) => setTimeout(resolve, 20))
  // The first write is still accepted by the kernel (the peer answers it with RST); the next one fails.
  for (let i = 0; i < 50 && !a.destroyed; i++) {
    writeDirect(a, Buffer.alloc(64 * 1024), () => {})
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await closed
  t.ok(a.destroyed, 'destroyed')
  t.ok(errors.length >= 1, "'error' was emitted before 'close'")
})
