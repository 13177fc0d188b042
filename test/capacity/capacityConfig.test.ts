import t from 'tap'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { ManualClock } from '../../core/clock.js'
import { configSchema } from '../../core/config/schema.js'
import { isIotlessError } from '../../core/errors.js'
import { boxInstances, Capacity } from '../../adapters/runtime/capacity/capacityConfig.js'
import { CgroupV1CpuQuota, detectCpuQuota } from '../../adapters/runtime/capacity/cpuQuota.js'
import { SloScaler } from '../../adapters/runtime/capacity/sloScaler.js'
import { memoryLog } from '../helpers/silentLog.js'
import { Registry } from 'prom-client'
import { createMetrics } from '../../core/metrics.js'

const machine = { cpus: 4, memoryMb: 8192 }
const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b))
const cfg = (functions: Record<string, unknown>, capacity: Record<string, unknown> = {}) => configSchema.parse({ functions, capacity })

t.test('a guarantee beyond maxScale is refused, naming the field and the numbers', async (t) => {
  const { log } = memoryLog()
  const config = cfg({ cam: { module: 'x', maxScale: 2, serviceMs: 200, guarantee: { ratePerSec: 20, burst: 0 } } })
  try {
    void new Capacity(config, { clock: new ManualClock(), log, machine })
    t.fail('should refuse')
  } catch (err) {
    t.ok(isIotlessError(err) && err.code === 'CONFIG_INVALID')
    const msg = (err as Error).message
    t.match(msg, /functions\.cam\.guarantee\.ratePerSec/)
    t.match(msg, /20\/s/)
    t.match(msg, /maxScale 2 x concurrency 1 serves at most 10\.0\/s/)
  }
})

t.test('guarantees that sum past the box are refused together, each with its count', async (t) => {
  const { log } = memoryLog()
  const config = cfg({
    a: { module: 'x', maxScale: 16, serviceMs: 100, guarantee: { ratePerSec: 20 } },
    b: { module: 'x', maxScale: 16, serviceMs: 100, guarantee: { ratePerSec: 20 } }
  }, { instances: 4 })
  t.throws(() => new Capacity(config, { clock: new ManualClock(), log, machine }), /functions\.\*\.guarantee: the guarantees need \d+ instances \(a: \d+, b: \d+\) but capacity\.instances gives the box 4/)
})

t.test('a guarantee without serviceMs cannot be checked: refused, naming serviceMs', async (t) => {
  const { log } = memoryLog()
  t.throws(() => new Capacity(cfg({ a: { module: 'x', guarantee: { ratePerSec: 1 } } }), { clock: new ManualClock(), log, machine }), /functions\.a\.serviceMs: a guarantee/)
})

t.test('a set the box holds is accepted and reserved', async (t) => {
  const { log } = memoryLog()
  const config = cfg({ a: { module: 'x', maxScale: 16, serviceMs: 100, guarantee: { ratePerSec: 20, burst: 2 } }, b: { module: 'x', slo: { waitMs: 50, percentile: 0.99 }, weight: 32 } }, { instances: 12, deflation: false })
  const cap = new Capacity(config, { clock: new ManualClock(), log, machine })
  const a = cap.forFunction('a', config.functions.a as never)
  const b = cap.forFunction('b', config.functions.b as never)
  t.ok(a.planner.reservedInstances >= 3, `a reserves ${a.planner.reservedInstances}`)
  t.ok(a.gate !== undefined)
  t.ok(b.planner.scaler instanceof SloScaler, 'an slo picks the SLO sizer')
  t.equal(b.planner.weight, 32)
  t.equal(cap.box?.capacity, 12)
})

t.test('instances: machine is what the CPUs and memory hold after the reserves', async (t) => {
  const c = configSchema.parse({ capacity: { instances: 'machine', cpusPerInstance: 0.5, reserveCpus: 1 } }).capacity
  t.equal(boxInstances(c, { cpus: 4, memoryMb: 100_000 }), 6, '(4 - 1) / 0.5')
  t.equal(boxInstances(c, { cpus: 64, memoryMb: 2048 }), 6, '(2048 - 512) / 256')
  t.equal(boxInstances(configSchema.parse({}).capacity, machine), undefined, 'no box limit by default')
  t.throws(() => configSchema.parse({ functions: { a: { module: 'x', weight: 300 } } }), /weight/)
  t.throws(() => configSchema.parse({ functions: { a: { module: 'x', slo: { waitMs: 100, percentile: 95 } } } }), /percentile/)
})

t.test('no writable cgroup controller: deflation off, said once, no failure', async (t) => {
  const { log, lines } = memoryLog()
  const q = detectCpuQuota({ mount: join(mkdtempSync(join(tmpdir(), 'nocg-')), 'cpu'), group: 'x', cpusPerInstance: 1, log })
  t.equal(q, undefined)
  t.equal(lines.filter((l) => String(l.msg).includes('deflation is off')).length, 1)
})

const cgroup = '/sys/fs/cgroup/cpu'
const writable = existsSync(join(cgroup, 'cpu.cfs_quota_us')) && process.getuid?.() === 0
t.test('deflation writes the instance\'s cgroup v1 CPU quota', { skip: writable ? false : 'no writable cgroup v1 cpu controller here' }, async (t) => {
  const q = new CgroupV1CpuQuota(join(cgroup, `iotless-test-${process.pid}`), 1)
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30000)'], { stdio: 'ignore' })
  const pid = child.pid as number
  const exited = new Promise((resolve) => child.once('exit', resolve))
  t.teardown(() => { child.kill('SIGKILL') })
  q.add(pid, 1)
  const dir = join(q.dir, String(pid))
  t.equal(readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8').trim(), '100000', 'a full CPU')
  t.match(readFileSync(join(dir, 'cgroup.procs'), 'utf8'), new RegExp(`\\b${pid}\\b`), 'the process is in its group')
  q.set(pid, 0.5)
  t.equal(readFileSync(join(dir, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000', 'deflated to half')
  child.kill('SIGKILL')
  await exited
  q.close()
  t.equal(existsSync(q.dir), false, 'close removes the groups once their processes are gone')
})

t.test('a guarantee\'s reservation is started at once; the reactive default starts nothing', async (t) => {
  const { log } = memoryLog()
  const config = cfg({ a: { module: 'x', maxScale: 16, serviceMs: 100, guarantee: { ratePerSec: 20, burst: 2 } }, b: { module: 'x' } })
  const cap = new Capacity(config, { clock: new ManualClock(), log, machine })
  const warmed: Record<string, number> = {}
  for (const name of ['a', 'b']) {
    const pc = cap.forFunction(name, config.functions[name] as never)
    cap.watch({ name, planner: pc.planner, warmInstances: 0, startingInstances: 0, cpuShare: 1, onTick: undefined, prewarm: (n) => { warmed[name] = n } })
  }
  t.ok((warmed.a ?? 0) >= 3, `a prewarmed ${warmed.a}`)
  t.equal(warmed.b, undefined)
})

t.test('capacity.attainmentTarget: one feedback price for the box, bounded by the period and the longest keep-alive', async (t) => {
  const { log } = memoryLog()
  const clock = new ManualClock()
  const on = new Capacity(cfg({ a: { module: 'x', slo: { waitMs: 100, percentile: 0.95 }, keepAliveMs: 300_000 }, b: { module: 'y', slo: { waitMs: 100, percentile: 0.95 } } }, { attainmentTarget: 0.99 }), { clock, log, machine })
  t.ok(on.warmPrice !== undefined)
  t.equal(on.warmPrice?.minSeconds, 10, '2 x periodMs (5 s)')
  t.equal(on.warmPrice?.maxSeconds, 600, 'the longest keep-alive (b: 600 s)')
  const a = on.forFunction('a', cfg({ a: { module: 'x', slo: { waitMs: 100, percentile: 0.95 } } }).functions.a!).planner.scaler as SloScaler
  const b = on.forFunction('b', cfg({ b: { module: 'y', slo: { waitMs: 100, percentile: 0.95 } } }).functions.b!).planner.scaler as SloScaler
  // Misses reported through a raise the price b's warm floor uses: the price is shared.
  for (let i = 0; i < 1100; i++) a.onWait(1000, 500)
  t.ok(b.priceSeconds(700_000) > Math.sqrt(10 * 600), `shared: ${b.priceSeconds(700_000)} s`)
  const dflt = new Capacity(cfg({ a: { module: 'x', slo: { waitMs: 100, percentile: 0.95 } } }), { clock, log, machine })
  t.ok(dflt.warmPrice !== undefined, 'on by default (0.99)')
  // The box's design (BOX_WARM_PRICE): a batch that pays some debt back holds the price (no windup).
  const p = dflt.warmPrice
  if (p !== undefined) {
    for (let i = 0; i < 1100; i++) p.record(0, i >= 61, 0.01)
    for (let i = 0; i < 1100; i++) p.record(600_000, i >= 1, 0.01)
    p.seconds(1_200_000)
    t.same(p.steps.map((s) => close(s.seconds, Math.sqrt(10 * 600) * Math.SQRT2)), [true, true], 'up after the debt, held while paying it back')
  }
  const off = new Capacity(cfg({ a: { module: 'x', slo: { waitMs: 100, percentile: 0.95 } } }, { attainmentTarget: 0 }), { clock, log, machine })
  t.equal(off.warmPrice, undefined, 'attainmentTarget 0: off (the fixed price)')
  t.throws(() => cfg({}, { attainmentTarget: 1 }), /attainmentTarget/)
})

t.test('metrics: the feedback price, its balance and its misses (charged, start-up) at each tick', async (t) => {
  const { log } = memoryLog()
  const clock = new ManualClock()
  const registry = new Registry()
  const metrics = createMetrics(registry)
  const config = cfg({ a: { module: 'x', slo: { waitMs: 100, percentile: 0.95 } } }, { attainmentTarget: 0.99 })
  const cap = new Capacity(config, { clock, log, machine, metrics })
  const pc = cap.forFunction('a', config.functions.a!)
  const pool = { name: 'a', planner: pc.planner, warmInstances: 0, startingInstances: 0, cpuShare: 1, onTick: undefined as ((nowMs: number) => void) | undefined, prewarm: () => {} }
  cap.watch(pool)
  const value = async (name: string, labels: Record<string, string> = {}): Promise<number | undefined> => {
    const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name)
    return m?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value
  }
  t.ok(close(await value('iotless_capacity_warm_price_seconds') ?? 0, Math.sqrt(10 * 600)), 'the starting price')
  const s = pc.planner.scaler as SloScaler
  for (let i = 0; i < 7; i++) s.onWait(0, 500, true)
  for (let i = 0; i < 1100; i++) s.onWait(0, i < 41 ? 500 : 0)
  clock.advance(700_000)
  pool.onTick?.(clock.now())
  t.ok(close(await value('iotless_capacity_warm_price_seconds') ?? 0, Math.sqrt(10 * 600) * Math.SQRT2), '41 misses of 11 allowed: up by sqrt 2')
  t.ok(close(await value('iotless_capacity_warm_price_balance') ?? 0, 11 - 41), 'balance 11 - 41')
  t.equal(await value('iotless_capacity_warm_price_misses_total', { accounting: 'charged' }), 41)
  t.equal(await value('iotless_capacity_warm_price_misses_total', { accounting: 'startup' }), 7)
  pool.onTick?.(clock.now())
  t.equal(await value('iotless_capacity_warm_price_misses_total', { accounting: 'charged' }), 41, 'a second tick adds nothing')
})

t.test('a fixed price set by hand while the feedback price is on is reported as unused (CONFIG_IGNORED), naming both fields', async (t) => {
  const ignored = (capacity: Record<string, unknown>): Array<Record<string, unknown>> => {
    const { log, lines } = memoryLog()
    void new Capacity(cfg({ a: { module: 'x' } }, capacity), { clock: new ManualClock(), log, machine })
    return lines.filter((l) => l.code === 'CONFIG_IGNORED')
  }
  const hand = ignored({ idleSecondsPerColdStart: 30 })
  t.equal(hand.length, 1, 'idleSecondsPerColdStart 30 with the default attainmentTarget 0.99')
  t.equal(hand[0]?.field, 'capacity.idleSecondsPerColdStart')
  t.match(String(hand[0]?.msg), /capacity\.attainmentTarget: 0/)
  t.same(ignored({}), [], 'the defaults: nothing to report')
  t.same(ignored({ idleSecondsPerColdStart: 30, attainmentTarget: 0 }), [], 'the fixed price asked for: used')
  t.same(ignored({ idleSecondsPerColdStart: 0, attainmentTarget: 0 }), [], 'the floor off: nothing unused')
})
