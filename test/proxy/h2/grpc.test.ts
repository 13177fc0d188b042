import * as grpc from '@grpc/grpc-js'
import t from 'tap'
import { startProxyInProcess } from '../helpers.js'
import { ECHO_SERVICE } from './fixtures/grpcUpstream.js'
import { GRPC_UPSTREAM_JS, startFixture } from './h2helpers.js'

const EchoClient = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo')

interface Unary { err: grpc.ServiceError | null; value: Buffer | undefined; trailers: grpc.Metadata | null }

function unary (client: grpc.Client, method: 'Say' | 'Fail' | 'Slow', msg: string, deadlineMs = 5000): Promise<Unary> {
  return new Promise((resolve) => {
    let trailers: grpc.Metadata | null = null
    const call = client.makeUnaryRequest(ECHO_SERVICE[method].path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from(msg), { deadline: Date.now() + deadlineMs }, (err, value) => {
      setImmediate(() => resolve({ err, value, trailers }))
    })
    call.on('status', (s: grpc.StatusObject) => { trailers = s.metadata })
  })
}

t.test('gRPC through the proxy: unary, trailers-only errors, server streaming, bidi', async (t) => {
  const up = await startFixture(t, GRPC_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up, { CONTAINER_CONCURRENCY: '4' })
  const client = new EchoClient(`127.0.0.1:${px.ports.serving}`, grpc.credentials.createInsecure())
  t.teardown(() => client.close())

  const u = await unary(client, 'Say', 'hi')
  t.equal(u.err, null)
  t.equal(u.value?.toString(), 'said:hi')
  t.same(u.trailers?.get('x-trailer'), ['unary'], 'trailing metadata arrives')

  const f = await unary(client, 'Fail', 'x')
  t.equal(f.err?.code, grpc.status.NOT_FOUND, 'grpc-status from a trailers-only response')
  t.equal(f.err?.details, 'no such thing')

  const streamed = await new Promise<{ msgs: string[]; trailers: grpc.Metadata | null; code: number }>((resolve) => {
    const msgs: string[] = []
    let trailers: grpc.Metadata | null = null
    const call = client.makeServerStreamRequest(ECHO_SERVICE.Count.path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from('100'))
    call.on('data', (m: Buffer) => msgs.push(m.toString()))
    call.on('status', (s: grpc.StatusObject) => { trailers = s.metadata; resolve({ msgs, trailers, code: s.code }) })
    call.on('error', () => {})
  })
  t.equal(streamed.code, grpc.status.OK)
  t.equal(streamed.msgs.length, 100)
  t.equal(streamed.msgs[99], '99')
  t.same(streamed.trailers?.get('x-trailer'), ['stream'])

  const chat = await new Promise<{ msgs: string[]; code: number }>((resolve) => {
    const msgs: string[] = []
    const call = client.makeBidiStreamRequest(ECHO_SERVICE.Chat.path, (b: Buffer) => b, (b: Buffer) => b)
    let sent = 0
    call.on('data', (m: Buffer) => {
      msgs.push(m.toString())
      // Ping-pong: the next message goes only after the previous echo came back through the proxy.
      if (++sent < 5) call.write(Buffer.from(`m${sent}`))
      else call.end()
    })
    call.on('status', (s: grpc.StatusObject) => resolve({ msgs, code: s.code }))
    call.on('error', () => {})
    call.write(Buffer.from('m0'))
  })
  t.equal(chat.code, grpc.status.OK)
  t.same(chat.msgs, ['echo:m0', 'echo:m1', 'echo:m2', 'echo:m3', 'echo:m4'])

  // Many concurrent unary calls on the one channel: each is a stream, each takes a breaker slot (4), the rest queue.
  const many = await Promise.all(Array.from({ length: 40 }, (_, i) => unary(client, 'Say', String(i))))
  t.same(many.map((m) => m.value?.toString()), Array.from({ length: 40 }, (_, i) => `said:${i}`))
  t.equal(px.ctx.breaker?.inFlight, 0)
})

t.test('gRPC deadline: the client cancels (RST_STREAM), the proxy cancels upstream and frees the slot', async (t) => {
  const up = await startFixture(t, GRPC_UPSTREAM_JS)
  const px = await startProxyInProcess(t, up, { CONTAINER_CONCURRENCY: '1' })
  const client = new EchoClient(`127.0.0.1:${px.ports.serving}`, grpc.credentials.createInsecure())
  t.teardown(() => client.close())
  const slow = await unary(client, 'Slow', '2000', 200)
  t.equal(slow.err?.code, grpc.status.DEADLINE_EXCEEDED)
  for (let i = 0; i < 100 && (px.ctx.breaker?.inFlight ?? 0) > 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  t.equal(px.ctx.breaker?.inFlight, 0, 'slot released at the reset, not when the upstream would have answered')
  const ok = await unary(client, 'Say', 'after')
  t.equal(ok.value?.toString(), 'said:after')
})
