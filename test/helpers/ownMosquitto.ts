import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './freePort.js'
import { waitFor } from './waitFor.js'

function accepts (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

export interface OwnMosquitto {
  readonly url: string
  readonly port: number
  /** SIGKILL, then start again on the same port with the same persistence file. */
  restart(): Promise<void>
  kill(): Promise<void>
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * A Mosquitto 2 of the test's own, on a free port, for what the shared one on 1883 must not be put through
 * (restarts) or has the wrong settings for (max_queued_messages). Persistence is on, in a temporary folder,
 * so a restarted broker keeps sessions only if it saved them: a SIGKILL loses what was not yet written.
 * `settings` add to or replace these keys (e.g. `persistence: 'false'`).
 */
export async function startOwnMosquitto (settings: Record<string, string | number> = {}, baseConf?: string): Promise<OwnMosquitto> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'iotless-mosquitto-'))
  const conf = join(dir, 'mosquitto.conf')
  const own: Record<string, string | number> = { listener: `${port} 127.0.0.1`, persistence_location: `${dir}/`, log_dest: 'none', ...(process.getuid?.() === 0 ? { user: 'root' } : {}), ...settings }
  let lines: string[]
  if (baseConf === undefined) {
    lines = ['allow_anonymous true', ...Object.entries({ persistence: 'true', ...own }).map(([k, v]) => `${k} ${v}`)]
  } else {
    // A config file of the docs, used as it is but for the keys the test sets (ports, folders): each such
    // line is replaced where it stands, since bridge settings belong to the `connection` above them.
    const left = new Map(Object.entries(own))
    lines = baseConf.split('\n').map((line) => {
      const key = /^(\w+)\s/.exec(line)?.[1]
      if (key === undefined || !left.has(key)) return line
      const v = left.get(key)
      left.delete(key)
      return `${key} ${v}`
    })
    lines.splice(lines.findIndex((l) => /^connection\s/.test(l)) >>> 0, 0, ...[...left].map(([k, v]) => `${k} ${v}`))
  }
  writeFileSync(conf, lines.join('\n') + '\n')
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const c = spawn('mosquitto', ['-c', conf], { stdio: 'ignore' })
    child = c
    c.once('error', () => undefined)
    await waitFor(`mosquitto listening on ${port}`, () => accepts(port), 10_000, 20)
  }
  const kill = async (): Promise<void> => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const gone = new Promise((resolve) => c.once('exit', resolve))
    c.kill('SIGKILL')
    await gone
  }
  await start()
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    start,
    kill,
    restart: async () => { await kill(); await start() },
    stop: async () => { await kill(); rmSync(dir, { recursive: true, force: true }) }
  }
}
