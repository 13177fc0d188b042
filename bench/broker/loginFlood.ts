/**
 * A login flood against the embedded broker, with and without broker.loginLimits, side by side in one run:
 * attackers on loopback send CONNECTs with wrong passwords at a fixed total rate while a logged-in device
 * measures its publish -> receive round trip (QoS 1, to itself). Reported per variant: the process's CPU
 * per wall second during the flood (scrypt runs on libuv's threads, counted too), the round trip's p50/p99,
 * and how the attackers' CONNECTs ended. "no limits" is the broker before loginLimits (every attempt derives
 * scrypt, up to libuv's 4 threads at once).
 *
 *   npm run build && node dist/bench/broker/loginFlood.js [--seconds 5] [--rate 200] [--rounds 2] [--write]
 */
import { loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'
import { startEmbeddedBroker } from '../../adapters/broker/embeddedBroker.js'
import { DEFAULT_LOGIN_LIMITS, type LoginLimits } from '../../adapters/broker/loginThrottle.js'
import { hashPassword } from '../../adapters/broker/passwordHash.js'
import { createLogger } from '../../core/log.js'
import { writeResultsSection } from '../writeResultsSection.js'

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, rate: { type: 'string', default: '200' }, rounds: { type: 'string', default: '2' }, write: { type: 'boolean', default: false } } })
const seconds = Number(values.seconds)
const rate = Number(values.rate)
const rounds = Number(values.rounds)
const log = createLogger({ level: 'silent' })
const UNLIMITED: LoginLimits = { concurrentChecks: 64, queuedChecks: 100_000, failuresBeforeLockout: 1_000_000_000, lockoutMaxMs: 1000 }
const variants: Array<{ name: string; limits: LoginLimits }> = [
  { name: 'no limits (before)', limits: UNLIMITED },
  { name: 'broker.loginLimits defaults', limits: DEFAULT_LOGIN_LIMITS }
]

interface Row { cpuPerSec: number; p50: number; p99: number; pings: number; refused4: number; refused3: number; unanswered: number; other: number }

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))] as number
}

async function runOnce (limits: LoginLimits): Promise<Row> {
  const users = new Map([['s1', await hashPassword('s1-password')]])
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    log,
    auth: { users },
    acl: { rules: [{ users: ['*'], publish: ['devices/{username}/#'], subscribe: ['devices/{username}/#'] }], adapterOnly: [], adapterClientId: 'iotless-adapter', bindClientIdToUser: true },
    loginLimits: limits
  })
  const device = await mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0, clientId: 's1', username: 's1', password: 's1-password' })
  await device.subscribeAsync('devices/s1/#', { qos: 1 })
  const rtts: number[] = []
  let sentAt = 0
  let waiting: (() => void) | undefined
  device.on('message', () => { rtts.push(performance.now() - sentAt); waiting?.() })
  const outcome = { refused4: 0, refused3: 0, unanswered: 0, other: 0 }
  const attempts: Array<Promise<void>> = []
  let stop = false
  const attacker = setInterval(() => {
    if (stop) return
    for (let i = 0; i < Math.max(1, Math.round(rate / 100)); i++) {
      attempts.push(mqtt.connectAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 30_000, clientId: `s1:x${attempts.length}`, username: 's1', password: 'guess' })
        .then(async (c) => { outcome.other++; await c.endAsync(true) }, (e: { code?: number }) => {
          if (e.code === 4) outcome.refused4++
          else if (e.code === 3) outcome.refused3++
          // mqtt.js says 'connack timeout' for a CONNECT still waiting when the broker closed (queued by the limits).
          else if (/connack timeout/.test(String((e as Error).message))) outcome.unanswered++
          else outcome.other++
        }))
    }
  }, 10)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  while (performance.now() - t0 < seconds * 1000) {
    sentAt = performance.now()
    const got = new Promise<void>((resolve) => { waiting = resolve })
    await device.publishAsync('devices/s1/ping', 'x', { qos: 1 })
    await Promise.race([got, new Promise((resolve) => setTimeout(resolve, 5000))])
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  const cpu = process.cpuUsage(cpu0)
  const wall = (performance.now() - t0) / 1000
  stop = true
  clearInterval(attacker)
  await Promise.all(attempts)
  await device.endAsync(true)
  await broker.close()
  return { cpuPerSec: (cpu.user + cpu.system) / 1e6 / wall, p50: pct(rtts, 0.5), p99: pct(rtts, 0.99), pings: rtts.length, ...outcome }
}

const loadBefore = loadavg()[0]?.toFixed(1) ?? '?'
const results = new Map<string, Row[]>(variants.map((v) => [v.name, []]))
for (let r = 0; r < rounds; r++) {
  for (const v of r % 2 === 0 ? variants : [...variants].reverse()) {
    const row = await runOnce(v.limits)
    results.get(v.name)?.push(row)
    process.stderr.write(`round ${r + 1} ${v.name}: ${JSON.stringify(row)}\n`)
  }
}
const loadAfter = loadavg()[0]?.toFixed(1) ?? '?'
const med = (xs: number[]): number => pct(xs, 0.5)
const lines = ['| variant | CPU s per s (median of rounds) | device round trip p50 / p99 ms | pings | wrong-password CONNACK 4 | refused at once, CONNACK 3 | still queued at the end | other |', '|---|---:|---:|---:|---:|---:|---:|---:|']
for (const v of variants) {
  const rs = results.get(v.name) ?? []
  lines.push(`| ${v.name} | ${med(rs.map((x) => x.cpuPerSec)).toFixed(2)} | ${med(rs.map((x) => x.p50)).toFixed(2)} / ${med(rs.map((x) => x.p99)).toFixed(1)} | ${rs.map((x) => x.pings).join(', ')} | ${rs.map((x) => x.refused4).join(', ')} | ${rs.map((x) => x.refused3).join(', ')} | ${rs.map((x) => x.unanswered).join(', ')} | ${rs.map((x) => x.other).join(', ')} |`)
}
const table = lines.join('\n')
process.stdout.write(table + '\n')
if (values.write) {
  writeResultsSection(process.cwd(), 'Embedded broker: login flood', `## Embedded broker: login flood

\`node dist/bench/broker/loginFlood.js --seconds ${seconds} --rate ${rate} --rounds ${rounds} --write\` (bench/broker/loginFlood.ts), ${new Date().toISOString().slice(0, 10)}.
Attackers on loopback send ${rate} CONNECTs a second with a wrong password for ${seconds} s while a logged-in device
publishes QoS 1 to itself every 50 ms; the broker, attackers and device share one process (CPU includes libuv's
scrypt threads). "no limits" is the broker before broker.loginLimits. Variants alternate per round (${rounds} rounds).
Machine shared with other sessions: load average ${loadBefore} before, ${loadAfter} after.

${table}
`)
}
