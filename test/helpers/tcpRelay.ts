import { createServer, connect, type Socket } from 'node:net'

export interface TcpRelay {
  readonly port: number
  /** Drops every byte from the far side (PUBACKs, PINGRESPs) while still carrying ours: acknowledgements are lost. */
  dropReplies (): void
  /** Cuts the link: every connection closed, new ones refused (accepted and closed at once) until restore(). */
  cut (): void
  restore (): void
  /** Connections accepted and carried so far. */
  readonly connections: number
  close (): Promise<void>
}

/**
 * A TCP relay on 127.0.0.1, port 0, to `targetPort`: the link between two brokers that a test can break
 * (a cable pulled, a mobile link lost) without touching either broker.
 */
export async function tcpRelay (targetPort: number): Promise<TcpRelay> {
  const pairs = new Set<[Socket, Socket]>()
  let mode: 'open' | 'drop' | 'cut' = 'open'
  let connections = 0
  const server = createServer((client) => {
    if (mode === 'cut') { client.destroy(); return }
    connections++
    const far = connect(targetPort, '127.0.0.1')
    const pair: [Socket, Socket] = [client, far]
    pairs.add(pair)
    const end = (): void => { client.destroy(); far.destroy(); pairs.delete(pair) }
    client.on('data', (b) => { if (mode === 'open' || mode === 'drop') far.write(b) })
    far.on('data', (b) => { if (mode === 'open') client.write(b) })
    client.on('error', end).on('close', end)
    far.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    get connections () { return connections },
    dropReplies: () => { mode = 'drop' },
    cut: () => {
      mode = 'cut'
      for (const [a, b] of pairs) { a.destroy(); b.destroy() }
      pairs.clear()
    },
    restore: () => { mode = 'open' },
    close: async () => {
      for (const [a, b] of pairs) { a.destroy(); b.destroy() }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
