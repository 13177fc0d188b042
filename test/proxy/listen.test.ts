/**
 * Every proxy listener goes through core/listen.ts: a taken port stops start-up with PORT_IN_USE naming the
 * variable that moves it, and nothing is left listening (before, a taken admin port printed a raw stack and
 * the proxy went on serving without admin and stats).
 */
import t, { type Test } from 'tap'
import net from 'node:net'
import { spawn } from 'node:child_process'
import { IotlessError } from '../../core/errors.js'
import { readProxyEnv } from '../../proxy/env.js'
import { startQueueProxy } from '../../proxy/startQueueProxy.js'
import { baseEnv, PROXY_JS, startUpstream } from './helpers.js'

async function holdPort (t: Test): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  t.teardown(() => { s.close() })
  return (s.address() as net.AddressInfo).port
}

async function freePort (): Promise<number> {
  const s = net.createServer()
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()))
  const p = (s.address() as net.AddressInfo).port
  await new Promise((resolve) => s.close(resolve))
  return p
}

function canBind (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer()
    s.once('error', () => resolve(false))
    s.listen(port, '127.0.0.1', () => { s.close(() => resolve(true)) })
  })
}

for (const envVar of ['QUEUE_SERVING_PORT', 'IOTLESS_PROXY_ADMIN_PORT', 'IOTLESS_PROXY_STATS_PORT', 'IOTLESS_PROXY_USER_METRICS_PORT']) {
  t.test(`a taken ${envVar} is PORT_IN_USE naming it, and start-up stops with nothing left bound`, async (t) => {
    const up = await startUpstream(t)
    const taken = await holdPort(t)
    const serving = envVar === 'QUEUE_SERVING_PORT' ? taken : await freePort()
    const env = readProxyEnv(baseEnv(up.port, { QUEUE_SERVING_PORT: String(serving), [envVar]: String(taken) }))
    const err = await startQueueProxy(env).then(() => null, (e: unknown) => e)
    t.ok(err instanceof IotlessError, 'an IotlessError')
    t.equal((err as IotlessError).code, 'PORT_IN_USE')
    t.match((err as Error).message, new RegExp(`port ${taken} on 127\\.0\\.0\\.1 is already in use \\(${envVar}\\)`))
    t.match((err as Error).message, new RegExp(`${envVar}=${taken + 1} in the environment`))
    t.notMatch((err as Error).message, /iotless\.yaml/, 'no config file to point at')
    if (envVar !== 'QUEUE_SERVING_PORT') t.ok(await canBind(serving), 'the serving port bound before the failure was released')
  })
}

t.test('node dist/cli/proxy.js with its admin port taken exits 1 with PORT_IN_USE, no stack', async (t) => {
  const up = await startUpstream(t)
  const taken = await holdPort(t)
  const child = spawn(process.execPath, [PROXY_JS], { env: { PATH: process.env.PATH ?? '', ...baseEnv(up.port, { IOTLESS_PROXY_ADMIN_PORT: String(taken) }) }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  t.equal(code, 1)
  t.match(err, /PORT_IN_USE/)
  t.match(err, /IOTLESS_PROXY_ADMIN_PORT/)
  t.notMatch(err, /\n\s+at /, 'no stack trace')
  t.notMatch(out, /listening/, 'never announced itself as listening')
})
