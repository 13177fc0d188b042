// A multi-tier route over real sockets and a real `iotless fn serve` child process: a tier that answers
// garbage (not HTTP) is failed over, never a crash, and the handler time of Server-Timing reaches the predictor.
import t from 'tap'
import { spawn } from 'node:child_process'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { systemClock } from '../../core/clock.js'
import { PlacementTarget, type PlacementRecord } from '../../adapters/placement/placementTarget.js'
import { KnativeTarget } from '../../adapters/targets/knativeTarget.js'
import type { OutgoingEvent } from '../../adapters/target.js'
import { cliPath, fixtureFunction, repoRoot } from '../helpers/paths.js'
import { waitFor } from '../helpers/waitFor.js'

function ev (body: unknown): OutgoingEvent {
  return { attributes: { specversion: '1.0', id: 'e1', source: 'test', type: 't', datacontenttype: 'application/json' }, data: Buffer.from(JSON.stringify(body)) }
}

t.test('garbage from one tier fails over to a real fn serve; its handler time is learned', async (t) => {
  // Tier 1: a TCP server that answers every connection with bytes that are not HTTP, then closes.
  const sockets = new Set<Socket>()
  const garbage = createServer((s) => { sockets.add(s); s.on('error', () => {}); s.end('\x00\x01 this is not HTTP\r\n\r\n') })
  await new Promise<void>((resolve) => garbage.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); garbage.close() })
  const garbagePort = (garbage.address() as AddressInfo).port

  // Tier 2: the probe function in a real child process.
  const child = spawn(process.execPath, [cliPath, 'fn', 'serve', fixtureFunction('probe'), '--port', '0', '--host', '127.0.0.1'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>) } catch { /* not ours */ } })
  await waitFor('ready line', () => lines.some((l) => l.msg === 'iotless fn ready'))
  const port = lines.find((l) => l.msg === 'iotless fn listening')?.port as number

  const bad = new KnativeTarget({ url: `http://127.0.0.1:${garbagePort}/`, headersTimeoutMs: 5000, bodyTimeoutMs: 5000 })
  const good = new KnativeTarget({ url: `http://127.0.0.1:${port}/`, headersTimeoutMs: 5000, bodyTimeoutMs: 5000 })
  t.teardown(async () => { await bad.close(); await good.close() })
  const records: PlacementRecord[] = []
  const p = new PlacementTarget({
    label: 'routes[0]',
    tiers: [{ name: 'garbage', target: bad, slots: 4 }, { name: 'fn', target: good, slots: 4 }],
    mode: 'ordered',
    explore: 0,
    clock: systemClock,
    now: () => performance.now(),
    random: Math.random,
    onDecision: (r) => records.push(r)
  })
  for (let i = 0; i < 4; i++) {
    const r = await p.dispatch('probe', ev({ sleepMs: 20 }))
    t.equal(r.status, 'ok', `message ${i} answered`)
  }
  t.same(records.slice(0, 2).map((r) => [r.tier, r.reason, r.ok]), [['garbage', 'ordered', false], ['fn', 'failover', true]])
  t.ok(p.isOpen(0), 'three garbage answers in a row: the tier is skipped')
  t.equal(records.filter((r) => r.tier === 'garbage').length, 3, 'and not tried a fourth time')
  const fit = p.predictor('probe', 1)
  t.equal(fit.samples, 4)
  const pred = fit.predict(17, { busy: 0, slots: 4 })
  t.ok(pred.execMs >= 19 && pred.execMs < 60, `the handler's own ~20 ms, from Server-Timing (${pred.execMs.toFixed(1)} ms)`)
  t.ok(pred.transferMs < pred.execMs, `the rest is transfer (${pred.transferMs.toFixed(2)} ms)`)
})
