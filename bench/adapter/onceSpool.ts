/**
 * The disk spool's runs of `npm run bench:once` (issue 14, item 4), each through `iotless adapter` to the
 * counting target of test/helpers/killRun.ts:
 *
 * 1. Outage beyond the broker's queue: a Mosquitto with its default max_queued_messages (1000), the target
 *    down (every connection reset) for BENCH_SPOOL_OUTAGE_S (35) s while BENCH_SPOOL_MESSAGES (6000) QoS 1
 *    messages arrive at BENCH_SPOOL_RATE (200)/s; without the spool, then with it.
 * 2. The run: BENCH_ONCE_KILL_MESSAGES (20000) messages published at once, 30% of requests refused,
 *    the target down for 60 s from the first publish, BENCH_ONCE_KILLS (10) kill -9s, the spool on (fsync on);
 *    on the bench's big-queue Mosquitto (what is published while the adapter is down waits in the broker).
 *
 * Results go to the `## Effectively once: spool` section of bench/RESULTS.md.
 */
import { execSync } from 'node:child_process'
import os from 'node:os'
import type { KillRunOptions, KillRunResult } from '../../test/helpers/killRun.js'
import { startOwnMosquitto } from '../../test/helpers/ownMosquitto.js'
import { writeResultsSection } from '../writeResultsSection.js'

type One = (mosquittoUrl: string, name: string, o: Omit<KillRunOptions, 'mosquittoUrl' | 'dir' | 'prefix'>) => Promise<{ name: string; r: KillRunResult }>

const SPOOL_MESSAGES = Number(process.env.BENCH_SPOOL_MESSAGES ?? 6000)
const SPOOL_RATE = Number(process.env.BENCH_SPOOL_RATE ?? 200)
const SPOOL_OUTAGE_S = Number(process.env.BENCH_SPOOL_OUTAGE_S ?? 35)
const KILL_OUTAGE_S = Number(process.env.BENCH_SPOOL_KILL_OUTAGE_S ?? 60)

export async function spoolRuns (bigQueueUrl: string, one: One, o: { killMessages: number; kills: number; seed: number; repoRoot: string }): Promise<string> {
  const loadBefore = os.loadavg()
  const defaults = await startOwnMosquitto({})
  const outage: Array<{ name: string; r: KillRunResult }> = []
  try {
    const base = { messages: SPOOL_MESSAGES, rate: SPOOL_RATE, kills: 0, seed: o.seed, refuse: 0, outage: { atMs: 0, forMs: SPOOL_OUTAGE_S * 1000 } }
    outage.push(await one(defaults.url, 'no spool', { ...base, settleMs: 10_000 }))
    outage.push(await one(defaults.url, 'spool (fsync on)', { ...base, spool: { fsync: true } }))
  } finally {
    await defaults.stop()
  }
  const kill = await one(bigQueueUrl, 'spool (fsync on)', {
    messages: o.killMessages, kills: o.kills, seed: o.seed, refuse: 0.3, killAfterMs: [1000, 4000], spool: { fsync: true }, outage: { atMs: 0, forMs: KILL_OUTAGE_S * 1000 }
  })
  const loadAfter = os.loadavg()
  const lines = [
    '## Effectively once: spool',
    '',
    `\`npm run bench:once\` (this part alone: \`BENCH_ONCE_ONLY=spool node dist/bench/adapter/once.js\`; ${new Date().toISOString().slice(0, 16)}Z; ${os.cpus().length} cores, load ${loadBefore.map((x) => x.toFixed(1)).join(' ')} before, ${loadAfter.map((x) => x.toFixed(1)).join(' ')} after; ${execSync('mosquitto -h | head -1').toString().trim()}). ` +
      '`iotless adapter` -> sink target -> an HTTP server counting with once(); "target down" = every connection to it reset before an answer. bench/adapter/onceSpool.ts.',
    '',
    `Outage beyond the broker's queue: Mosquitto with its default max_queued_messages (1000); ${SPOOL_MESSAGES} QoS 1 messages at ${SPOOL_RATE}/s while the target is down for ${SPOOL_OUTAGE_S} s:`,
    '',
    '| run | counted once | missing (dropped by the broker) | counted twice | connections reset while down | first publish -> last counted, s |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...outage.map(({ name, r }) => `| ${name} | ${r.exact} | ${r.missing} | ${r.overCounted} | ${r.resets} | ${(r.elapsedMs / 1000).toFixed(1)}${r.missing > 0 ? ' (incl. 10 s without progress)' : ''} |`),
    '',
    `The issue's run: ${o.killMessages} QoS 1 messages published at once, 30% of requests refused (503), the target down for ${KILL_OUTAGE_S} s from the first publish, ${o.kills} kill -9s of \`iotless adapter\` at seeded random moments (seed ${o.seed}), restarted each time; spool on (fsync on), Mosquitto with max_queued_messages 200000:`,
    '',
    '| run | kills done | counted once | missing | counted twice | dead letters | re-dispatches absorbed by once() | refused | first publish -> last counted, s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    `| ${kill.name} | ${kill.r.killsDone} | ${kill.r.exact} | ${kill.r.missing} | ${kill.r.overCounted} | ${kill.r.deadLetters} | ${kill.r.duplicateDispatches} | ${kill.r.refused} | ${(kill.r.elapsedMs / 1000).toFixed(1)} |`,
    ''
  ]
  const text = lines.join('\n')
  console.log(text)
  writeResultsSection(o.repoRoot, 'Effectively once: spool', text)
  return text
}
