import t from 'tap'
import { SloScaler } from '../../adapters/runtime/capacity/sloScaler.js'
import { WarmPrice } from '../../adapters/runtime/capacity/warmPrice.js'
import { boxWarmPrice, simulateRequests } from '../../adapters/runtime/sim/requestSim.js'
import type { RequestTrace } from '../../adapters/runtime/sim/requestTrace.js'
import { seededRandom } from '../../core/seededRandom.js'

const slo = { waitMs: 100, percentile: 0.95 }
const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b))

/** n outcomes at `atMs`, `misses` of them missed, each allowed 1% misses. */
function feed (p: WarmPrice, atMs: number, n: number, misses: number): void {
  for (let i = 0; i < n; i++) p.record(atMs, i >= misses, 0.01)
}

t.test('starts at the geometric middle of its bounds', async (t) => {
  t.equal(new WarmPrice({ minSeconds: 10, maxSeconds: 640 }).seconds(0), 80)
  t.equal(new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 5 }).seconds(0), 10, 'a start outside the bounds is clamped')
  t.throws(() => new WarmPrice({ minSeconds: 0, maxSeconds: 10 }), RangeError)
})

t.test('each batch alone (budgetWindowMs 0): below the target the price goes up, by the misses/allowed ratio, at most 2x', async (t) => {
  const p = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, payBack: false })
  feed(p, 0, 1100, 15) // 15 misses against 11 allowed
  t.equal(p.seconds(639_999), 80, 'the batch is judged only once it has lasted the highest price (640 s)')
  t.ok(close(p.seconds(640_000), 80 * 16 / 12), `then raised by (15 + 1) / (11 + 1): ${p.seconds(640_000)}`)
  t.equal(p.steps.length, 1)
  t.match(p.steps[0], { atMs: 640_000, requests: 1100, misses: 15 })
  t.ok(close(p.steps[0]?.allowed ?? 0, 11))
  const q = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, payBack: false })
  feed(q, 0, 1100, 500)
  t.equal(q.seconds(640_000), 160, 'far below: 2x, no more')
})

t.test('a batch needs enough allowed misses to be judged', async (t) => {
  const p = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, payBack: false })
  feed(p, 0, 500, 500) // every request missed, but 5 allowed: too few to judge
  t.equal(p.seconds(1_000_000), 80, 'half a batch: unchanged however late')
  feed(p, 1_000_000, 600, 0)
  t.equal(p.seconds(1_000_001), 160, 'once it holds 10 allowed misses (500 misses of 1100): raised')
})

t.test('hysteresis: unchanged inside the band, lowered only when comfortably above the target', async (t) => {
  for (const [misses, want] of [[10, 80], [5, 80], [4, 40], [0, 40]] as const) {
    const p = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, payBack: false })
    feed(p, 0, 1100, misses)
    // Allowed 11: the band is 11 - 2 sqrt(11) = 4.37 .. 11 misses.
    t.ok(close(p.seconds(640_000), want), `${misses} misses of 11 allowed: ${p.seconds(640_000)} s, want ${want}`)
  }
  // A larger batch (110 allowed, band 89 .. 110): 80 misses lower it by (80 + 1) / (110 + 1), not by the 2x bound.
  const p = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, payBack: false })
  feed(p, 0, 11_000, 80)
  t.ok(Math.abs(p.seconds(640_000) - 80 * 81 / 111) < 1e-6, `80 of 110: ${p.seconds(640_000)} s`)
  const short = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, batchMs: 60_000, payBack: false })
  feed(short, 0, 1100, 0)
  t.equal(short.seconds(60_000), 40, 'batchMs sets the batch\'s length')
})

t.test('error budget (the default): a burst is paid back, not forgotten, and a surplus lets the price down', async (t) => {
  const p = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80 })
  const r2 = Math.SQRT2
  feed(p, 0, 1100, 41) // 41 misses, 11 allowed: balance -30
  t.ok(close(p.seconds(640_000), 80 * r2), 'overspent: up by sqrt 2')
  feed(p, 640_000, 1100, 10) // within the target, but the debt stands (balance -30 + 1)
  t.ok(close(p.seconds(1_280_000), 160), 'a batch at the target does not pay back the burst: up again')
  const alone = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, payBack: false })
  feed(alone, 0, 1100, 41)
  feed(alone, 640_000, 1100, 10)
  t.equal(alone.seconds(1_280_000), 160, 'judged alone, the second batch holds (160 after the first 2x)')
  t.equal(alone.steps[1]?.seconds, 160)
  feed(p, 1_280_000, 3300, 0) // 33 allowed, none missed: balance -29 + 33 = 4
  t.ok(close(p.seconds(1_920_000), 160), 'debt paid (balance 4), not comfortably within (cap 2 sqrt(33) = 11.5): holds')
  feed(p, 1_920_000, 3300, 0)
  t.ok(close(p.seconds(2_560_000), 160 / r2), 'balance at its cap: down by sqrt 2')
  // Credit is not banked: a batch far within the target buys at most one batch's noise (2 sqrt(a)) of later misses.
  const c = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80 })
  feed(c, 0, 11_000, 0) // 110 allowed, none missed: the balance is capped at 2 sqrt(110) = 21
  t.ok(close(c.seconds(640_000), 80 / r2), 'comfortably within: down')
  t.ok(close(c.steps[0]?.balance ?? 0, 2 * Math.sqrt(110)), 'balance at its cap')
  feed(c, 640_000, 1100, 30) // 30 misses of 11: 21 + 11 - 30 = 2 >= 0
  t.ok(close(c.seconds(1_280_000), 80 / r2), 'the capped credit absorbs one overspent batch: holds')
  feed(c, 1_280_000, 1100, 30) // 2 + 11 - 30 < 0
  t.ok(close(c.seconds(1_920_000), 80), 'but not a second one: up (a banked surplus of 110 would have absorbed it)')
})

t.test('bounded: the keep-alive above, two periods below', async (t) => {
  const up = new WarmPrice({ minSeconds: 10, maxSeconds: 600 })
  const down = new WarmPrice({ minSeconds: 10, maxSeconds: 600 })
  for (let k = 0; k < 20; k++) {
    const at = k * 700_000
    feed(up, at, 1100, 1100)
    feed(down, at, 1100, 0)
  }
  t.equal(up.seconds(20 * 700_000), 600)
  t.equal(down.seconds(20 * 700_000), 10)
})

t.test('the box\'s price is shared: misses reported by one function keep another\'s instance warm', async (t) => {
  // f arrives every 60 s; at idle age 42 s its hazard over the next 10 s is 0.036/s: warm at a price of 40 s, not 20 s.
  const run = (otherMisses: number | undefined): { floor: number; price: number } => {
    const p = new WarmPrice({ minSeconds: 10, maxSeconds: 600, initialSeconds: 20, payBack: false })
    const f = new SloScaler(slo, 1, 8, { attainmentTarget: 0.99, periodMs: 5000 }, p)
    const other = new SloScaler(slo, 1, 8, { attainmentTarget: 0.99, periodMs: 5000 }, p)
    for (let i = 0; i <= 10; i++) f.onArrival(i * 60_000)
    if (otherMisses !== undefined) for (let i = 0; i < 1100; i++) other.onWait(1000, i < otherMisses ? 400 : 0)
    f.tick(600_000 + 42_000, { inFlight: 0, waiting: 0, ready: 0, starting: 0 })
    return { floor: f.keep(), price: f.priceSeconds(600_000 + 42_000) }
  }
  t.same(run(undefined), { floor: 0, price: 20 }, 'nothing reported: the starting price, too low for this age')
  t.same(run(1100), { floor: 1, price: 40 }, 'the other function missed: the price doubled and the instance stays')
  t.same(run(0), { floor: 0, price: 10 }, 'the other function was well within: the price halved')
  // A refused request (no service time) counts as missed.
  const p = new WarmPrice({ minSeconds: 10, maxSeconds: 600, initialSeconds: 20, payBack: false })
  const s = new SloScaler(slo, 1, 8, { attainmentTarget: 0.99 }, p)
  for (let i = 0; i < 1100; i++) s.onComplete(1000, undefined)
  t.equal(p.seconds(700_000), 40)
  // Without a target (attainmentTarget 0; the default is 0.99) the fixed price stands and nothing is counted.
  const fixed = new SloScaler(slo, 1, 8, { idleSecondsPerColdStart: 60, attainmentTarget: 0 })
  fixed.onWait(0, 1000)
  t.equal(fixed.priceSeconds(1_000_000), 60)
})

t.test('simulator: the pool reports each request\'s wait, and cold misses raise the box\'s price', async (t) => {
  // 20 functions, Poisson, one request per 2 min each, 100 ms each, 6 h: cold starts (250 ms) miss the 100 ms objective.
  const rnd = seededRandom(3)
  const functions: RequestTrace['functions'] = []
  for (let f = 0; f < 20; f++) {
    const at: number[] = []
    for (let x = -Math.log(1 - rnd()) * 120_000; x < 21_600_000; x += -Math.log(1 - rnd()) * 120_000) at.push(x)
    functions.push({ id: `f${f}`, arrivalsMs: Float64Array.from(at), durationsMs: Float32Array.from(at, () => 100) })
  }
  const tr: RequestTrace = { format: 'azure2021', source: 'test', how: 'Poisson', durationMs: 21_600_000, functions }
  const fb = simulateRequests(tr, { scaler: 'slo', coldStartMs: 250, sloSettings: { attainmentTarget: 0.99 } })
  const steps = fb.warmPriceSteps ?? []
  t.ok(steps.length >= 2, `batches judged: ${steps.length}`)
  const last = steps[steps.length - 1]?.seconds ?? 0
  t.ok(last > Math.sqrt(10 * 600), `the price rose from its start (77.5 s): ${last.toFixed(1)} s`)
  const fixed = simulateRequests(tr, { scaler: 'slo', coldStartMs: 250, sloSettings: { attainmentTarget: 0, idleSecondsPerColdStart: 10 } })
  t.equal(fixed.warmPriceSteps, undefined, 'no target: no feedback price')
  t.ok(fb.sloAttainment > fixed.sloAttainment, `feedback ${(fb.sloAttainment * 100).toFixed(2)}% > fixed 10 s ${(fixed.sloAttainment * 100).toFixed(2)}%`)
})

t.test('start-up requests (arrived before their function ever had an instance ready) are counted apart, not charged', async (t) => {
  const r2 = Math.SQRT2
  // A batch of 1100 charged requests at the target (11 allowed, 10 missed) beside 500 start-up misses.
  const batch = (p: WarmPrice, at: number): void => {
    for (let i = 0; i < 500; i++) p.record(at, false, 0.01, true)
    feed(p, at, 1100, 10)
  }
  const p = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80 })
  batch(p, 0)
  t.equal(p.seconds(640_000), 80, 'no debt from the start-up misses: the price holds')
  t.same([p.steps[0]?.requests, p.steps[0]?.misses, p.steps[0]?.startup], [1100, 10, 500], 'charged requests and misses, start-up apart')
  t.ok(close(p.steps[0]?.allowed ?? 0, 11), 'start-up requests add no allowance')
  t.ok(close(p.balance, 1), 'balance 11 - 10')
  t.same([p.chargedMisses, p.startupMisses], [10, 500])
  // The earlier accounting, every miss charged: 510 misses of 16 allowed, in debt, up.
  const old = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, chargeStartup: true })
  batch(old, 0)
  t.ok(close(old.seconds(640_000), 80 * r2), 'chargeStartup: the start-up misses are a debt: up by sqrt 2')
  t.same([old.steps[0]?.misses, old.steps[0]?.startup, old.startupMisses], [510, 0, 0])
  // Start-up requests alone never close a batch (they hold no allowance): the price waits for charged ones.
  const only = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80 })
  for (let i = 0; i < 5000; i++) only.record(0, false, 0.01, true)
  t.equal(only.seconds(10_000_000), 80)
  t.equal(only.steps.length, 0)
  // A start-up request within its objective is counted apart too (neither a miss nor an allowance).
  const within = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80 })
  for (let i = 0; i < 3; i++) within.record(0, true, 0.01, true)
  feed(within, 0, 1100, 0)
  within.seconds(640_000)
  t.same([within.steps[0]?.requests, within.steps[0]?.startup, within.startupMisses], [1100, 3, 0])
})

t.test('SloScaler.onWait passes the start-up flag to the box\'s price', async (t) => {
  const p = new WarmPrice({ minSeconds: 10, maxSeconds: 600, initialSeconds: 20, payBack: false })
  const s = new SloScaler(slo, 1, 8, { attainmentTarget: 0.99 }, p)
  for (let i = 0; i < 300; i++) s.onWait(1000, 400, true)
  for (let i = 0; i < 1100; i++) s.onWait(1000, 0)
  t.equal(p.seconds(700_000), 10, 'the 300 start-up misses are not charged: a quiet batch, down')
  t.same([p.startupMisses, p.chargedMisses], [300, 0])
})

t.test('simulator: a function\'s requests before its first instance is ready are start-up ones, later cold misses are charged', async (t) => {
  // One function, 40 requests 1 ms apart at t = 0 (all before its first instance, 250 ms, is ready), then one every
  // 20 min (each a cold start after the 600-s batch: charged), 100 ms each.
  const at: number[] = []
  for (let i = 0; i < 40; i++) at.push(i)
  for (let x = 1_200_000; x < 36_000_000; x += 1_200_000) at.push(x)
  const tr: RequestTrace = { format: 'azure2021', source: 'test', how: 'fixed', durationMs: 36_000_000, functions: [{ id: 'f', arrivalsMs: Float64Array.from(at), durationsMs: Float32Array.from(at, () => 100) }] }
  const r = simulateRequests(tr, { scaler: 'slo', coldStartMs: 250, sloSettings: { attainmentTarget: 0.99 }, warmPrice: { batchMisses: 0.01 } })
  const steps = r.warmPriceSteps ?? []
  t.ok(steps.length > 0, `batches: ${steps.length}`)
  t.equal(steps.reduce((n, s) => n + s.startup, 0), 40, 'the 40 requests before the first instance is ready')
  t.ok(steps.reduce((n, s) => n + s.misses, 0) > 0, 'the later cold starts are charged')
  const old = simulateRequests(tr, { scaler: 'slo', coldStartMs: 250, sloSettings: { attainmentTarget: 0.99 }, warmPrice: { batchMisses: 0.01, chargeStartup: true } })
  t.equal((old.warmPriceSteps ?? []).reduce((n, s) => n + s.startup, 0), 0, 'chargeStartup: none counted apart')
})

t.test('holdWhilePaying: in debt, the price rises only after a batch that added to the debt (no windup)', async (t) => {
  const r2 = Math.SQRT2
  const run = (holdWhilePaying: boolean): number[] => {
    const p = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, holdWhilePaying })
    feed(p, 0, 1100, 61) // 61 misses of 11 allowed: balance -50, up
    feed(p, 640_000, 1100, 1) // within (1 of 11): balance -40, still in debt but shrinking
    feed(p, 1_280_000, 1100, 1) // balance -30
    feed(p, 1_920_000, 1100, 20) // 20 of 11: the debt grows again (-39)
    p.seconds(2_560_000)
    return p.steps.map((s) => s.seconds)
  }
  const held = run(true)
  t.ok(close(held[0] ?? 0, 80 * r2), 'the batch that made the debt: up')
  t.ok(close(held[1] ?? 0, 80 * r2) && close(held[2] ?? 0, 80 * r2), `paying it back at this price: held (${held.map((x) => x.toFixed(1)).join(', ')})`)
  t.ok(close(held[3] ?? 0, 160), 'a batch over its allowance while in debt: up')
  const wound = run(false)
  t.ok(close(wound[2] ?? 0, 80 * r2 ** 3), `without: up at every batch in debt (${wound.map((x) => x.toFixed(1)).join(', ')})`)
  // Once paid back and at the cap, down as before.
  const p = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, holdWhilePaying: true })
  feed(p, 0, 1100, 21) // balance -10: up
  feed(p, 640_000, 11_000, 0) // 110 allowed, none missed: balance capped at 2 sqrt(110)
  p.seconds(1_280_000)
  t.ok(close(p.steps[1]?.seconds ?? 0, 80), 'debt paid, at the cap: down by sqrt 2')
})

t.test('step and downAfter: the factor of a move, and the batches at the cap a decrease needs', async (t) => {
  const s = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, step: 2 })
  feed(s, 0, 1100, 41)
  t.equal(s.seconds(640_000), 160, 'step 2: doubled')
  const d = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, downAfter: 2 })
  feed(d, 0, 1100, 0)
  t.equal(d.seconds(640_000), 80, 'one batch at the cap: held')
  feed(d, 640_000, 1100, 0)
  t.ok(close(d.seconds(1_280_000), 80 / Math.SQRT2), 'the second in a row: down')
  feed(d, 1_280_000, 1100, 0)
  t.ok(close(d.seconds(1_920_000), 80 / Math.SQRT2), 'the count starts again after a decrease')
})

t.test('the box\'s default price: attainment target 0.99, no windup, down after 2 batches at the cap', async (t) => {
  // Batches of 1100 at 1% allowed (11): 61 missed (debt -50), 1 missed (debt shrinks), then two of 11000 with none.
  const probe = (record: (atMs: number, within: boolean) => void, seconds: (atMs: number) => number): number[] => {
    const out: number[] = []
    const batches: Array<[number, number]> = [[1100, 61], [1100, 1], [11_000, 0], [11_000, 0]]
    batches.forEach(([n, misses], b) => {
      for (let i = 0; i < n; i++) record(b * 600_000, i >= misses)
      if (b > 0) out.push(seconds(b * 600_000)) // batch b - 1 closed at batch b's first request
    })
    out.push(seconds(batches.length * 600_000))
    return out
  }
  const r2 = Math.SQRT2
  const start = Math.sqrt(10 * 600)
  const want = [start * r2, start * r2, start * r2, start]
  const matches = (got: number[]): boolean => got.length === want.length && got.every((x, i) => close(x, want[i] ?? NaN))
  // The plain rule (the class's own defaults) for contrast: up at every batch in debt, down after one at the cap.
  const plain = new WarmPrice({ minSeconds: 10, maxSeconds: 600 })
  const plainGot = probe((at, w) => plain.record(at, w, 0.01), (at) => plain.seconds(at))
  t.ok(close(plainGot[1] ?? 0, start * 2), `the plain rule winds up: ${plainGot.map((x) => x.toFixed(1)).join(', ')}`)
  const sim = boxWarmPrice({ scaler: 'slo', keepAliveMs: 600_000 })
  t.ok(sim !== undefined, 'the simulator: on by default (attainmentTarget 0.99)')
  if (sim !== undefined) {
    const got = probe((at, w) => sim.record(at, w, 0.01), (at) => sim.seconds(at))
    t.ok(matches(got), `the simulator's box price: ${got.map((x) => x.toFixed(1)).join(', ')}`)
  }
  t.equal(boxWarmPrice({ scaler: 'slo', keepAliveMs: 600_000, sloSettings: { attainmentTarget: 0 } }), undefined, 'attainmentTarget 0: the fixed price')
  const own = new SloScaler(slo, 1, 10)
  const gotOwn = probe((at, w) => own.onWait(at, w ? 0 : 500), (at) => own.priceSeconds(at))
  t.ok(matches(gotOwn), `a sizer's own price: ${gotOwn.map((x) => x.toFixed(1)).join(', ')}`)
})

t.test('keepSteps: a live box keeps the last batches only; the price moves as with every record kept', async (t) => {
  const all = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, batchMs: 1000, batchMisses: 1 })
  const last = new WarmPrice({ minSeconds: 10, maxSeconds: 640, initialSeconds: 80, batchMs: 1000, batchMisses: 1, keepSteps: 3 })
  for (let i = 0; i < 50; i++) {
    for (const p of [all, last]) { p.record(i * 1000 + 1, i % 3 !== 0, 0.01); for (let k = 0; k < 200; k++) p.record(i * 1000 + 2, true, 0.01) }
  }
  t.equal(all.steps.length, 49)
  t.equal(last.steps.length, 3, 'no more than keepSteps')
  t.same(last.steps, all.steps.slice(-3), 'the newest ones, the same records')
  t.equal(last.seconds(50_000), all.seconds(50_000), 'the same price')
  t.throws(() => new WarmPrice({ minSeconds: 10, maxSeconds: 640, keepSteps: 0 }), RangeError)
})
