import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { createServer } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startEmbeddedBroker } from '../../adapters/broker/embeddedBroker.js'
import { cliPath, repoRoot } from '../helpers/paths.js'
import { memoryLog } from '../helpers/silentLog.js'

async function takenPort (t: Test): Promise<number> {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())))
  return (blocker.address() as { port: number }).port
}

t.test('a taken broker port gets an error naming the port and how to choose another', async (t) => {
  const port = await takenPort(t)
  const { log } = memoryLog()
  const err = await startEmbeddedBroker({ host: '127.0.0.1', port, log }).then(() => undefined, (e: Error & { code?: string }) => e)
  t.equal(err?.code, 'PORT_IN_USE')
  t.match(err?.message, `port ${port} on 127.0.0.1 is already in use (broker.port)`, 'names the port and its setting')
  t.match(err?.message, `IOTLESS_BROKER_PORT=${port + 1}`, 'says how to choose another')
  t.match(err?.message, `broker.url: mqtt://127.0.0.1:${port}`, 'and how to use the broker that holds it')
})

t.test('iotless up exits non-zero with that message when the broker port is taken', async (t) => {
  const port = await takenPort(t)
  const cfg = join(t.testdir(), 'iotless.yaml')
  writeFileSync(cfg, `broker:\n  port: ${port}\nmetrics:\n  enabled: false\n`)
  const r = spawnSync(process.execPath, [cliPath, 'up', '-c', cfg], { cwd: repoRoot, encoding: 'utf8', timeout: 20_000 })
  t.equal(r.status, 1)
  t.match(r.stderr, `iotless: PORT_IN_USE: port ${port}`)
  t.match(r.stderr, 'IOTLESS_BROKER_PORT')
})

t.test('the embedded broker starts on port 0 and closes cleanly', async (t) => {
  const { log } = memoryLog()
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, log })
  t.ok(broker.port > 0)
  t.equal(broker.url, `mqtt://127.0.0.1:${broker.port}`)
  await broker.close()
})
