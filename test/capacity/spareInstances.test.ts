import { EventEmitter } from 'node:events'
import type { ChildProcess } from 'node:child_process'
import t from 'tap'
import { ManualClock } from '../../core/clock.js'
import { envKey, SpareInstances } from '../../adapters/runtime/spareInstances.js'

/** Just what SpareInstances looks at of a child process. */
class FakeChild extends EventEmitter {
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  connected = true
  killed: string | undefined
  kill (sig: string): boolean { this.killed = sig; this.die(); return true }
  die (): void { this.exitCode = 1; this.connected = false; this.emit('exit', 1, null) }
}

function spares (count: number, env: NodeJS.ProcessEnv = { A: '1' }) {
  const clock = new ManualClock(0)
  const forked: FakeChild[] = []
  const s = new SpareInstances({ count, env, clock, refillDelayMs: 100, forkSpare: () => { const c = new FakeChild(); forked.push(c); return c as unknown as ChildProcess } })
  return { s, clock, forked }
}

t.test('environment keys ignore variable order', async (t) => {
  t.equal(envKey({ A: '1', B: '2' }), envKey({ B: '2', A: '1' }))
  t.not(envKey({ A: '1' }), envKey({ A: '2' }))
})

t.test('keeps `count` spares, hands one out per matching take, refills after the delay', async (t) => {
  const { s, clock, forked } = spares(2)
  t.equal(forked.length, 2, 'forked at once')
  t.equal(s.take(envKey({ B: '1' })), undefined, 'another environment: none')
  const c = s.take(envKey({ A: '1' }))
  t.equal(c, forked[0] as unknown as ChildProcess)
  t.equal(s.available, 1)
  clock.advance(99)
  t.equal(forked.length, 2, 'not refilled before refillDelayMs')
  clock.advance(1)
  t.equal(forked.length, 3)
  t.equal(s.available, 2)
  t.equal(s.taken, 1)
})

t.test('a dead spare is skipped and replaced, not handed out; close kills the rest', async (t) => {
  const { s, clock, forked } = spares(1)
  forked[0]?.die()
  t.equal(s.available, 0)
  t.equal(s.take(envKey({ A: '1' })), undefined)
  clock.advance(1000)
  t.equal(forked.length, 2, 'replaced, at most one a second')
  const live = forked[1] as FakeChild
  live.connected = false
  t.equal(s.take(envKey({ A: '1' })), undefined, 'a spare whose IPC is gone is not handed out')
  clock.advance(100)
  s.close()
  t.equal(forked[2]?.killed, 'SIGKILL')
  t.equal(s.take(envKey({ A: '1' })), undefined, 'closed')
  clock.advance(10_000)
  t.equal(forked.length, 3, 'no refill after close')
})

t.test('count 0 forks nothing', async (t) => {
  const { s, forked } = spares(0)
  t.equal(forked.length, 0)
  t.equal(s.take(envKey({ A: '1' })), undefined)
})
