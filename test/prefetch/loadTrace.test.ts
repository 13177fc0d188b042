import t from 'tap'
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadTrace, detectTraceFormat } from '../../prefetch/traces/loadTrace.js'
import { loadAzure2019 } from '../../prefetch/traces/loadAzure2019.js'
import { codeOf } from '../helpers/codeOf.js'

// Small slices are cut at run time from the real traces in ../shared/traces (never committed; README there).
const TRACES = join(process.cwd(), '..', 'shared', 'traces')
const A19 = join(TRACES, 'azure2019-500fn-8h')
const A21 = join(TRACES, 'azure2021')
const ULB = join(TRACES, 'ulb-sensornet-library1')

function tmp (t: Tap): string {
  const dir = mkdtempSync(join(tmpdir(), 'iotless-trace-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
type Tap = { teardown(fn: () => void): void }

/** The first `rows` functions and the minute columns [from, to) of the 2019 slice. */
function cut2019 (dir: string, rows: number, from: number, to: number, withExtras = true): void {
  const lines = readFileSync(join(A19, 'invocations.csv'), 'utf8').split('\n').slice(0, rows + 1)
  const out = lines.map((l) => { const c = l.replace(/\r$/, '').split(','); return [...c.slice(0, 4), ...c.slice(4 + from, 4 + to)].join(',') })
  writeFileSync(join(dir, 'invocations.csv'), out.join('\n') + '\n')
  if (withExtras) {
    for (const f of ['durations.csv', 'memory.csv']) writeFileSync(join(dir, f), readFileSync(join(A19, f), 'utf8'))
  }
}

t.test('azure2019: a contiguous run of minute columns, durations and per-app memory', async (t) => {
  const dir = tmp(t)
  cut2019(dir, 20, 100, 160)
  const tr = loadTrace(dir, undefined)
  t.equal(tr.format, 'azure2019')
  t.equal(tr.minutes, 60)
  t.equal(tr.firstMinuteLabel, 580)
  t.equal(tr.functions.length, 20)
  const durations = new Map(readFileSync(join(A19, 'durations.csv'), 'utf8').split('\n').slice(1).map((l) => { const c = l.split(','); return [String(c[0]) + '/' + String(c[1]) + '/' + String(c[2]), Number(c[3])] as [string, number] }))
  t.ok(tr.functions.every((f) => f.durationMs === durations.get(f.id)), 'Average from durations.csv, matched by owner/app/function')
  t.ok(tr.functions.every((f) => f.memoryMb > 0 && f.memoryMb !== 128), 'every app found in memory.csv')
  const p99 = loadAzure2019(dir, { memoryStat: 99 })
  t.ok(p99.functions.some((f, i) => f.memoryMb !== tr.functions[i]?.memoryMb), 'the percentile column differs')
})

t.test('azure2019: defaults without durations.csv and memory.csv', async (t) => {
  const dir = tmp(t)
  cut2019(dir, 5, 0, 10, false)
  const tr = loadAzure2019(dir, { defaultMemoryMb: 256, defaultDurationMs: 50 })
  t.ok(tr.functions.every((f) => f.memoryMb === 256 && f.durationMs === 50))
})

t.test('azure2019: bad files are TRACE_INVALID naming file and line', async (t) => {
  const dir = tmp(t)
  writeFileSync(join(dir, 'invocations.csv'), 'HashOwner,HashApp,HashFunction,Trigger,1,2,4\na,b,c,http,0,1,0\n')
  t.equal(codeOf(() => loadAzure2019(dir), /contiguous/), 'TRACE_INVALID')
  writeFileSync(join(dir, 'invocations.csv'), 'HashOwner,HashApp,HashFunction,Trigger,1,2\na,b,c,http,0,x\n')
  t.equal(codeOf(() => loadAzure2019(dir), /invocations\.csv:2/), 'TRACE_INVALID')
  writeFileSync(join(dir, 'invocations.csv'), 'Owner,HashApp\n')
  t.equal(codeOf(() => loadAzure2019(dir)), 'TRACE_INVALID')
  t.equal(codeOf(() => loadTrace(join(dir, 'missing'), 'azure2019')), 'TRACE_NOT_FOUND')
  t.equal(codeOf(() => detectTraceFormat(join(dir, 'nope'))), 'TRACE_NOT_FOUND')
})

t.test('azure2021: per-invocation rows binned to the minute of their start', async (t) => {
  const dir = tmp(t)
  const file = join(dir, 'a21.csv')
  const lines = readFileSync(join(A21, 'AzureFunctionsInvocationTraceForTwoWeeksJan2021_first998.csv'), 'utf8').split('\n').slice(0, 101)
  writeFileSync(file, lines.join('\n') + '\n')
  const tr = loadTrace(file, undefined)
  t.equal(tr.format, 'azure2021')
  const total = tr.functions.reduce((a, f) => a + f.counts.reduce((x, y) => x + y, 0), 0)
  t.equal(total, 100)
  writeFileSync(join(dir, 'b.csv'), 'app,func,end_timestamp,duration\na,f,59.5,0.5\na,f,61,2\na,f,130,1\n')
  const small = loadTrace(join(dir, 'b.csv'), 'azure2021')
  const f = small.functions[0]
  t.same(f === undefined ? [] : [...f.minutes], [0, 2], 'starts 59.0 and 59.0 fall in minute 0, 129 in minute 2')
  t.same(f === undefined ? [] : [...f.counts], [2, 1])
  t.equal(f?.durationMs, 1000 * (0.5 + 2 + 1) / 3)
  writeFileSync(join(dir, 'b.csv'), 'app,func,end_timestamp,duration\na,f,1,2\n')
  t.equal(codeOf(() => loadTrace(join(dir, 'b.csv'), 'azure2021')), 'TRACE_INVALID')
})

t.test('ulb: one function per node, CRLF and decimal commas, minute bins from the first packet', async (t) => {
  const dir = tmp(t)
  const r1 = readFileSync(join(ULB, 'R1.txt'), 'utf8').split('\n').slice(0, 200).join('\n')
  writeFileSync(join(dir, 'R1.txt'), r1)
  const tr = loadTrace(dir, undefined)
  t.equal(tr.format, 'ulb')
  t.ok(tr.functions.length >= 10 && tr.functions.every((f) => /^node-\d+$/.test(f.id)))
  const total = tr.functions.reduce((a, f) => a + f.counts.reduce((x, y) => x + y, 0), 0)
  t.equal(total, 200)
  writeFileSync(join(dir, 'R1.txt'), '1163438041250 20 1 21,21\r\n1163438101250 20 2 21,2\r\n\r\n1163438041250 x\r\n')
  t.equal(codeOf(() => loadTrace(dir, 'ulb'), /R1\.txt:4/), 'TRACE_INVALID')
  writeFileSync(join(dir, 'R1.txt'), '1163438041250 20 1 21,21\r\n1163438101250 20 2 21,2\r\n')
  const two = loadTrace(dir, 'ulb')
  t.same([...(two.functions[0]?.minutes ?? [])], [0, 1])
})
