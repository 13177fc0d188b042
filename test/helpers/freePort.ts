import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/** The kernel's ephemeral range: what port-0 listens and outgoing connections are given. */
function ephemeralRange (): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number)
    if (lo !== undefined && hi !== undefined && lo > 1024 && hi >= lo) return [lo, hi]
  } catch { /* not Linux: the IANA range */ }
  return [49152, 65535]
}

function tryListen (port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer()
    s.once('error', () => resolve(undefined))
    s.listen(port, '127.0.0.1', () => {
      const got = (s.address() as { port: number }).port
      s.close(() => resolve(got))
    })
  })
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for a child process that must be told its port before it
 * starts, or for "nothing listens there". Taken below the kernel's ephemeral range, so that no other test's
 * port-0 listener or outgoing connection is handed it in between (a CI run saw a "dead" port answer 404).
 * Where the code under test can listen on port 0 itself, prefer that.
 */
export async function freePort (): Promise<number> {
  const [lo] = ephemeralRange()
  const from = Math.max(10_000, lo - 12_000)
  const span = Math.max(1, lo - from)
  for (let i = 0; i < 50; i++) {
    const port = await tryListen(from + Math.floor(Math.random() * span))
    if (port !== undefined) return port
  }
  const any = await tryListen(0)
  if (any === undefined) throw new Error('no free TCP port on 127.0.0.1')
  return any
}
