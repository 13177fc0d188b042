import type { IncomingMessage } from 'node:http'

/** The body of a request, or undefined when it is over `limit` bytes (the rest is read and dropped). */
export function readBody (req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size > limit) { chunks.length = 0; return }
      chunks.push(c)
    })
    req.on('end', () => { resolve(size > limit ? undefined : Buffer.concat(chunks)) })
    req.on('error', reject)
  })
}
