import { isIP } from 'node:net'

/**
 * Whether a listen address keeps a server on this machine: `localhost`, 127.0.0.0/8 or ::1 (brackets allowed).
 * Anything else, `0.0.0.0`, `::` and other host names included, is beyond loopback.
 */
export function isLoopbackHost (host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1')
  if (h === 'localhost') return true
  if (isIP(h) === 4) return h.startsWith('127.')
  return h === '::1' || h === '0:0:0:0:0:0:0:1'
}
