import net from 'node:net'
import t from 'tap'
import { adoptSocket } from '../../proxy/adoptSocket.js'

t.test('an adopted socket delivers each read as its own copy, pauses, resumes, sees the end and writes', async (t) => {
  const chunks: Buffer[] = []
  let adopted: net.Socket | undefined
  let ended = false
  const gotChunk: Array<() => void> = []
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (accepted) => {
    adopted = adoptSocket(accepted, true, (chunk) => { chunks.push(chunk); gotChunk.shift()?.() })
    adopted.on('end', () => { ended = true; adopted?.end('bye') })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => server.close())
  const port = (server.address() as net.AddressInfo).port
  const client = net.connect(port, '127.0.0.1')
  const reply: Buffer[] = []
  client.on('data', (b: Buffer) => reply.push(b))
  const closed = new Promise<void>((resolve) => client.on('close', () => resolve()))

  const next = (): Promise<void> => new Promise((resolve) => gotChunk.push(resolve))
  let wait = next()
  client.write('first')
  await wait
  const s = adopted as net.Socket
  s.pause()
  client.write('second')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(chunks.length, 1, 'nothing is read while paused')
  wait = next()
  s.resume()
  await wait
  t.same(chunks.map((c) => c.toString()), ['first', 'second'], 'the first chunk was not overwritten by the second read')
  client.end()
  await closed
  t.ok(ended, "'end' is emitted at EOF")
  t.equal(Buffer.concat(reply).toString(), 'bye', 'the adopted socket writes and ends')
})
