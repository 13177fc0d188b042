import { IotlessError } from '../core/errors.js'
import type { StatusSnapshot } from '../dashboard/statusSnapshot.js'
import type { Command } from './command.js'
import { numberFlag } from './numberFlag.js'
import { parseOptions } from './parseOptions.js'
import { renderStatus } from './renderStatus.js'

const usage = `Usage: iotless status [--url URL] [--json] [--traces N]

Shows a running stack (iotless up or iotless adapter) in the terminal: routes and their message rates,
functions with warm, starting and busy instances, cold starts, latency percentiles, dead letters, prefetch,
and the last messages with their spans. Read from GET /api/status on its metrics port (the dashboard's JSON).

Options:
  --url URL      the stack's metrics address (default http://127.0.0.1:9464)
  --json         print the JSON as it came
  --traces N     last messages to show (default 5)
  --timeout-ms N give up after this long (default 5000)
  -h, --help     show this help`

/** Reads and prints; `write` is the standard output (tests pass their own). */
export async function runStatus (argv: string[], write: (text: string) => void): Promise<number> {
  const { values: v } = parseOptions(argv, {
    url: { type: 'string' },
    json: { type: 'boolean' },
    traces: { type: 'string' },
    'timeout-ms': { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }, usage)
  if (v.help === true) { write(usage + '\n'); return 0 }
  const base = v.url ?? 'http://127.0.0.1:9464'
  let url: URL
  try { url = new URL('api/status', base.endsWith('/') ? base : base + '/') } catch { throw new IotlessError('CLI_USAGE', `--url: not a URL: ${JSON.stringify(base)}\n\n${usage}`) }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new IotlessError('CLI_USAGE', `--url: expected http:// or https://, got ${url.protocol}\n\n${usage}`)
  const traces = numberFlag('--traces', v.traces, 5, { min: 0, integer: true }, usage)
  const timeoutMs = numberFlag('--timeout-ms', v['timeout-ms'], 5000, { min: 1, integer: true }, usage)
  let res: Response
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message
    throw new IotlessError('STATUS_UNREACHABLE', `${url.href}: ${cause} (is iotless up running, with metrics.dashboard on? --url sets where)`)
  }
  if (!res.ok) throw new IotlessError('STATUS_UNREACHABLE', `${url.href} answered ${res.status}${res.status === 404 ? ': not an iotless dashboard, or metrics.dashboard is off' : ''}`)
  const text = await res.text()
  let snap: StatusSnapshot
  try {
    snap = JSON.parse(text) as StatusSnapshot
  } catch {
    throw new IotlessError('STATUS_UNREACHABLE', `${url.href} did not answer JSON: not an iotless dashboard`)
  }
  if (!Array.isArray(snap.routes) || !Array.isArray(snap.functions) || !Array.isArray(snap.traces)) {
    throw new IotlessError('STATUS_UNREACHABLE', `${url.href} answered JSON that is not an iotless status`)
  }
  write(v.json === true ? text + '\n' : renderStatus(snap, { url: base, traces }))
  return 0
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'show a running stack in the terminal (routes, functions, dead letters, last messages) from its /api/status',
  usage,
  run: (argv) => runStatus(argv, (text) => { process.stdout.write(text) })
}
