import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

export interface WanOptions {
  /** Round-trip time added, ms (half each way). */
  rttMs: number
  /** Bandwidth each way, bytes per second (a shared link per direction). */
  bytesPerSecond: number
  upstreamHost: string
  upstreamPort: number
}

/**
 * A user-space WAN emulator (this kernel has no netem): a TCP proxy on 127.0.0.1 that delays every chunk by
 * half the RTT and releases each direction's bytes no faster than the bandwidth, as a serial link does.
 */
export async function startWanProxy (o: WanOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const oneWay = o.rttMs / 2
  // Each direction is one link: the time it is free again, shared by all connections.
  const linkFreeAt = { up: 0, down: 0 }
  const sockets = new Set<Socket>()
  const relay = (from: Socket, to: Socket, dir: 'up' | 'down'): void => {
    from.on('data', (chunk: Buffer) => {
      const now = performance.now()
      const start = Math.max(now, linkFreeAt[dir])
      linkFreeAt[dir] = start + (chunk.length / o.bytesPerSecond) * 1000
      const at = linkFreeAt[dir] + oneWay
      setTimeout(() => { if (!to.destroyed) to.write(chunk) }, Math.max(0, at - now))
    })
    from.on('end', () => { setTimeout(() => to.end(), Math.max(0, linkFreeAt[dir] + oneWay - performance.now()) + 1) })
  }
  const server: Server = createServer((client) => {
    const up = createConnection({ host: o.upstreamHost, port: o.upstreamPort })
    for (const s of [client, up]) { sockets.add(s); s.setNoDelay(true); s.on('error', () => { client.destroy(); up.destroy() }); s.on('close', () => sockets.delete(s)) }
    relay(client, up, 'up')
    relay(up, client, 'down')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
