import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { cliPath, sharedDir } from '../helpers/paths.js'

const A21 = join(sharedDir, 'traces', 'azure2021')

function run (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : (typeof err.code === 'number' ? err.code : 1), stdout, stderr })
    })
  })
}

t.test('iotless sim --model request: one JSON line per scaler, a table, and clear errors', async (t) => {
  const json = await run(['sim', '--model', 'request', '--trace', A21, '--scaler', 'reactive', '--scaler', 'slo', '--max-scale', '16', '--json'])
  t.equal(json.code, 0, json.stderr)
  const rows = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
  t.same(rows.map((r) => r.scaler), ['reactive', 'slo'])
  for (const r of rows) {
    t.equal(r.requests, 998)
    for (const k of ['sloAttainment', 'latencyMsP95', 'waitMsP95', 'instanceSeconds', 'spawns', 'jainUnderOverload', 'simSeconds']) t.ok(k in r, `has ${k}`)
  }
  const table = await run(['sim', '--model', 'request', '--trace', A21, '--box-instances', '4'])
  t.equal(table.code, 0, table.stderr)
  t.match(table.stdout, /within SLO \(wait <= 100 ms\)\s+\d+\.\d+%/)
  t.match(table.stdout, /overload\s+[1-9]\d* times/, 'a 4-instance box is overloaded by this trace')

  const bad = await run(['sim', '--model', 'request', '--trace', A21, '--scaler', 'magic'])
  t.equal(bad.code, 2)
  t.match(bad.stderr, /--scaler must be one of reactive, kpa, fixed, slo or all, got magic/)
  const pct = await run(['sim', '--model', 'request', '--trace', A21, '--percentile', '95'])
  t.equal(pct.code, 2)
  t.match(pct.stderr, /--percentile must be between 0 and 1/)
  const fb = await run(['sim', '--model', 'request', '--trace', A21, '--attainment-target', '0.99'])
  t.equal(fb.code, 0, fb.stderr)
  t.match(fb.stdout, /warm floor price \(feedback\)\s+no batch judged yet/, 'the feedback price is on and says how it moved')
  t.match(table.stdout, /warm floor price \(feedback\)/, 'on by default (attainment target 0.99)')
  const fixed = await run(['sim', '--model', 'request', '--trace', A21, '--scaler', 'slo', '--attainment-target', '0'])
  t.equal(fixed.code, 0, fixed.stderr)
  t.notMatch(fixed.stdout, /warm floor price/, '--attainment-target 0: the fixed price, no such row')
  const badTarget = await run(['sim', '--model', 'request', '--trace', A21, '--attainment-target', '1'])
  t.equal(badTarget.code, 2)
  t.match(badTarget.stderr, /--attainment-target must be in \[0, 1\)/)
  const missing = await run(['sim', '--model', 'request'])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /--trace is required/)
})
