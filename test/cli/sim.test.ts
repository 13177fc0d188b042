import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'iotless.js')
const A19 = join(process.cwd(), '..', 'shared', 'traces', 'azure2019-500fn-8h')

function run (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

t.test('iotless sim on a slice cut from the 2019 trace: JSON, table, sweep SVG, errors', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-sim-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const lines = readFileSync(join(A19, 'invocations.csv'), 'utf8').split('\n').slice(0, 61)
  writeFileSync(join(dir, 'invocations.csv'), lines.map((l) => l.split(',').slice(0, 4 + 120).join(',')).join('\n') + '\n')

  const json = await run(['sim', '--trace', dir, '--policy', 'hybrid', '--param', 'rangeMin=60', '--json'])
  t.equal(json.code, 0, json.stderr)
  const r = JSON.parse(json.stdout) as Record<string, unknown>
  for (const k of ['policy', 'params', 'functions', 'invocations', 'coldStarts', 'coldStartPct', 'p75FunctionColdStartPct', 'wastedMemoryGbSeconds', 'decisionMicrosP99']) {
    t.ok(k in r, `has ${k}`)
  }
  t.equal(r.policy, 'hybrid')
  t.equal((r.params as Record<string, number>).rangeMin, 60)
  t.equal(r.functions, 60)

  const table = await run(['sim', '--trace', dir, '--policy', 'fixed', '--trace-format', 'azure2019'])
  t.equal(table.code, 0)
  t.match(table.stdout, /p75 function cold-start %/)

  const svg = join(dir, 'plot.svg')
  const sweep = await run(['sim', '--sweep', '--trace', dir, '--out', svg])
  t.equal(sweep.code, 0, sweep.stderr)
  const text = readFileSync(svg, 'utf8')
  t.match(text, /^<svg /)
  for (const p of ['fixed', 'knative', 'hybrid', 'iotless']) t.match(text, new RegExp(`>${p}<`))

  const bad = await run(['sim', '--trace', dir, '--policy', 'nope'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /SIM_UNKNOWN_POLICY/)
  const badParam = await run(['sim', '--trace', dir, '--param', 'hazardThreshold=2'])
  t.equal(badParam.code, 2)
  t.match(badParam.stderr, /SIM_INVALID_PARAM/)
  const missing = await run(['sim', '--trace', join(dir, 'nope')])
  t.match(missing.stderr, /TRACE_NOT_FOUND/)
})
