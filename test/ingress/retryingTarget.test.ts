// Retry as a wrapper around a Target, driven by a ManualClock and fixed randomness: no broker, no sleeps.
import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { backoffDelayMs, RetryingTarget } from '../../adapters/ingress/retryingTarget.js'
import type { DispatchResult, OutgoingEvent, Target } from '../../adapters/target.js'

const event: OutgoingEvent = { attributes: { specversion: '1.0', id: '1', source: 's', type: 't' }, data: Buffer.from('x') }
const busy: DispatchResult = { status: 'rejected', retryable: true, code: 'TARGET_HTTP_STATUS', message: 'HTTP 503', httpStatus: 503 }
const bad: DispatchResult = { status: 'rejected', retryable: false, code: 'TARGET_HTTP_STATUS', message: 'HTTP 400', httpStatus: 400 }

/** Answers from a script, one result per call; records when each call came (on the manual clock). */
function scripted (clock: ManualClock, script: Array<DispatchResult | Error>): Target & { calls: number[] } {
  const calls: number[] = []
  return {
    kind: 'test',
    calls,
    async dispatch () {
      calls.push(clock.now())
      const next = script[calls.length - 1] ?? { status: 'ok' }
      if (next instanceof Error) throw next
      return next
    },
    async close () {}
  }
}

/** Lets promise callbacks run, then moves the clock; repeated so each attempt and timer gets its turn. */
async function drive (clock: ManualClock, stepMs: number, steps: number): Promise<void> {
  for (let i = 0; i < steps; i++) {
    await new Promise((resolve) => setImmediate(resolve))
    clock.advance(stepMs)
  }
}

t.test('backoff: exponential from baseMs with equal jitter, capped; Retry-After wins when longer', async (t) => {
  const p = { maxAttempts: 5, baseMs: 100 }
  t.equal(backoffDelayMs(p, 1, 0), 50, 'attempt 1, random 0: half of 100')
  t.equal(backoffDelayMs(p, 1, 0.999999), 99.99995, 'attempt 1, random ~1: almost 100')
  t.equal(backoffDelayMs(p, 3, 0), 200, 'attempt 3: 400, half fixed')
  t.equal(backoffDelayMs(p, 20, 1), 5000, 'capped at maxBackoffMs')
  t.equal(backoffDelayMs(p, 1, 0, 3000), 3000, 'Retry-After longer than the backoff')
  t.equal(backoffDelayMs(p, 1, 0, 10), 50, 'Retry-After shorter: the backoff')
  t.equal(backoffDelayMs(p, 1, 0, 3_600_000), 60_000, 'Retry-After cut to maxRetryAfterMs')
})

t.test('retries what is retryable, waiting the backoff on the clock, until it passes', async (t) => {
  const clock = new ManualClock(0)
  const target = scripted(clock, [busy, busy, { status: 'ok' }])
  const retries: Array<[number, number]> = []
  const r = new RetryingTarget(target, { maxAttempts: 5, baseMs: 100, clock, random: () => 0, onRetry: (a, d) => { retries.push([a, d]) } })
  const done = r.dispatch('f', event)
  await drive(clock, 50, 10)
  const res = await done
  t.same(res, { result: { status: 'ok' }, attempts: 3, interrupted: false })
  t.same(target.calls, [0, 50, 150], 'second attempt after 50 ms, third 100 ms later')
  t.same(retries, [[1, 50], [2, 100]])
})

t.test('gives up after maxAttempts with the last result', async (t) => {
  const clock = new ManualClock(0)
  const target = scripted(clock, [busy, busy, busy, busy])
  const r = new RetryingTarget(target, { maxAttempts: 3, baseMs: 10, clock, random: () => 0 })
  const done = r.dispatch('f', event)
  await drive(clock, 10, 10)
  t.same(await done, { result: busy, attempts: 3, interrupted: false })
  t.equal(target.calls.length, 3)
})

t.test('a result that is not retryable is final at once', async (t) => {
  const clock = new ManualClock(0)
  const target = scripted(clock, [bad])
  const r = new RetryingTarget(target, { maxAttempts: 5, baseMs: 10, clock, random: () => 0 })
  t.same(await r.dispatch('f', event), { result: bad, attempts: 1, interrupted: false })
  t.equal(clock.pendingTimers, 0, 'no timer left behind')
})

t.test('a throw from the target counts as a retryable handler error', async (t) => {
  const clock = new ManualClock(0)
  const target = scripted(clock, [new Error('boom'), { status: 'ok' }])
  const r = new RetryingTarget(target, { maxAttempts: 2, baseMs: 10, clock, random: () => 0 })
  const done = r.dispatch('f', event)
  await drive(clock, 10, 5)
  t.same(await done, { result: { status: 'ok' }, attempts: 2, interrupted: false })
})

t.test('settled: called as each attempt ends, before its backoff, with its result or what it threw', async (t) => {
  const clock = new ManualClock(0)
  const boom = new Error('boom')
  const target = scripted(clock, [busy, boom, { status: 'ok' }])
  const seen: Array<[number, DispatchResult | undefined, unknown]> = []
  const r = new RetryingTarget(target, { maxAttempts: 5, baseMs: 100, clock, random: () => 0 })
  const done = r.run((tg) => tg.dispatch('f', event, {}), undefined, (res, err) => { seen.push([clock.now(), res, err]) })
  await drive(clock, 50, 10)
  t.same(await done, { result: { status: 'ok' }, attempts: 3, interrupted: false })
  t.same(seen, [[0, busy, undefined], [50, undefined, boom], [150, { status: 'ok' }, undefined]], 'once per attempt, at the time it ended (not after the wait)')
  const sync: unknown[] = []
  const thrown = new Error('sync')
  const once = new RetryingTarget(target, { maxAttempts: 1, baseMs: 100, clock, random: () => 0 })
  const res = await once.run(() => { throw thrown }, undefined, (res, err) => { sync.push(res, err) })
  t.same(sync, [undefined, thrown], 'a synchronous throw is reported too')
  t.equal(res.result.status === 'rejected' ? res.result.code : 'ok', 'FUNCTION_HANDLER_ERROR')
})

t.test('stopping cuts a backoff short: interrupted, no further attempt, no timer left', async (t) => {
  const clock = new ManualClock(0)
  const target = scripted(clock, [busy, busy])
  const stopping = new AbortController()
  const r = new RetryingTarget(target, { maxAttempts: 5, baseMs: 1000, clock, random: () => 0, stopRetrying: stopping.signal })
  const done = r.dispatch('f', event)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(clock.pendingTimers, 1, 'waiting out the backoff')
  stopping.abort()
  t.same(await done, { result: busy, attempts: 1, interrupted: true })
  t.equal(target.calls.length, 1)
  t.equal(clock.pendingTimers, 0)
})

t.test('the Retry-After of a result sets the wait', async (t) => {
  const clock = new ManualClock(0)
  const target = scripted(clock, [{ ...busy, retryAfterMs: 2000 }, { status: 'ok' }])
  const r = new RetryingTarget(target, { maxAttempts: 2, baseMs: 10, clock, random: () => 0 })
  const done = r.dispatch('f', event)
  await drive(clock, 500, 6)
  await done
  t.same(target.calls, [0, 2000])
})

t.test('maxAttempts below 1 is refused', async (t) => {
  t.throws(() => new RetryingTarget(scripted(new ManualClock(), []), { maxAttempts: 0, baseMs: 1, clock: new ManualClock(), random: () => 0 }), RangeError)
})
