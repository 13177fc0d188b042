/**
 * Preloaded by `npm run test:unit` (node --import): a unit test may not open a socket, listen, or start a
 * process. Each of those throws, naming what was tried, so a test that needs them fails the fast lane at
 * once instead of slowing it down; list such a test in test/unit.taprc's exclude (see test/README.md).
 * Files are allowed (a test may read fixtures and write to a temporary folder).
 */
import childProcess from 'node:child_process'
import dgram from 'node:dgram'
import { syncBuiltinESMExports } from 'node:module'
import net from 'node:net'

function refuse (what: string): never {
  throw new Error(`unit test tried to ${what}: sockets and processes are for integration tests (test/README.md)`)
}

for (const name of ['spawn', 'spawnSync', 'fork', 'exec', 'execSync', 'execFile', 'execFileSync'] as const) {
  (childProcess as unknown as Record<string, unknown>)[name] = () => refuse(`start a process (child_process.${name})`)
}
net.Server.prototype.listen = function () { return refuse('listen on a socket') }
net.Socket.prototype.connect = function () { return refuse('open a connection') }
dgram.createSocket = () => refuse('open a UDP socket')
syncBuiltinESMExports()
