import { createServer } from 'node:net'

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read, released), for a child process
 * that must be told its port before it starts. Where the code under test can listen on port 0 itself, prefer that.
 */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}
