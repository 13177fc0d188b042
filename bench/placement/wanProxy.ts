import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

export interface WanOptions {
  /** Round-trip time added, ms (half each way). */
  rttMs: number
  /** Bandwidth each way, bytes per second (a shared link per direction). */
  bytesPerSecond: number
  upstreamHost: string
  upstreamPort: number
  /** The link, when several proxies (one per function) share one (its `up` and `down`: when each direction is free again). */
  link?: WanLink
}

/** One serial link per direction: the time (performance.now ms) each is free again. */
export interface WanLink { up: number; down: number }

/**
 * A user-space WAN emulator (this kernel has no netem): a TCP proxy on 127.0.0.1 that delays every chunk by
 * half the RTT and releases each direction's bytes no faster than the bandwidth, as a serial link does.
 */
export async function startWanProxy (o: WanOptions): Promise<{ port: number; close: () => Promise<void> }> {
  const oneWay = o.rttMs / 2
  // Each direction is one link: the time it is free again, shared by all connections.
  const linkFreeAt: WanLink = o.link ?? { up: 0, down: 0 }
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

/**
 * Run as its own process (`node wanProxy.js RTT_MS BYTES_PER_S HOST PORT[,PORT...]`), so the bench's own work
 * does not delay its timers: one proxy per upstream port, all on one shared link; prints `{"ports":[...]}`.
 */
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const [rtt, bw, host, ports] = process.argv.slice(2)
  const link: WanLink = { up: 0, down: 0 }
  const proxies = await Promise.all((ports ?? '').split(',').map((p) => startWanProxy({ rttMs: Number(rtt), bytesPerSecond: Number(bw), upstreamHost: host ?? '127.0.0.1', upstreamPort: Number(p), link })))
  process.stdout.write(JSON.stringify({ ports: proxies.map((p) => p.port) }) + '\n')
  process.on('SIGTERM', () => { void Promise.all(proxies.map((p) => p.close())).then(() => process.exit(0)) })
}
