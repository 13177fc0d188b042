/**
 * Memory and CPU of text-detect under the batches of issue 11 item 8, the old code and ours side by side in one
 * run: each serves text-detect with `node <dist>/cli/fn.js serve text-detect` (Knative mode, gpu off) in its own
 * process, which gets, one after the other:
 *   1. hostile: N frames of 6000 x 6000 pixels of one colour (a few KB each as PNG) in one CloudEvents batch;
 *   2. camera:  N frames of 1600 x 1200 with text (a legitimate batch, 61 Mpx in all at N = 32).
 * Each batch goes to a fresh process of each code (ours twice: as shipped, and with onnxruntime's CPU arena off).
 * Per batch: peak RSS (VmHWM, reset before each batch through /proc/PID/clear_refs), RSS right after the reply
 * and after 5 s idle ("the memory stayed"), CPU seconds of the process, wall time, and the replies (ok / refused).
 *
 *   npm run build && node dist/bench/functions/hostileBatch.js --baseline /path/to/old/dist [--frames 32]
 *
 * --baseline is the dist/ folder of the code to compare with (e.g. a build of main before this change).
 * Results go to stdout and to the `## Functions: hostile batches` section of bench/RESULTS.md.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import sharp from 'sharp'
import { writeResultsSection } from '../writeResultsSection.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..', '..')

interface Served { child: ChildProcess; port: number; pid: number }

async function serve (dist: string, config: Record<string, unknown>): Promise<Served> {
  const child = spawn(process.execPath, [path.join(dist, 'cli', 'fn.js'), 'serve', 'text-detect', '--port', '0', '--host', '127.0.0.1', '--config', JSON.stringify({ gpu: 'off', ...config })], { stdio: ['ignore', 'pipe', 'inherit'] })
  let port = 0
  for await (const line of createInterface({ input: child.stdout as NodeJS.ReadableStream })) {
    const msg = JSON.parse(line) as { msg: string; port?: number }
    if (msg.msg === 'iotless fn listening') port = msg.port ?? 0
    if (msg.msg === 'iotless fn ready') break
  }
  if (port === 0 || child.pid === undefined) throw new Error(`${dist}: fn serve did not become ready`)
  return { child, port, pid: child.pid }
}

function status (pid: number): { rssMb: number; hwmMb: number } {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN)
  return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 }
}

function cpuSeconds (pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return (Number(fields[11]) + Number(fields[12])) / 100 // utime + stime, in clock ticks (USER_HZ = 100)
}

interface Row { code: string; batch: string; rssBeforeMb: number; peakMb: number; rssAfterMb: number; rssIdleMb: number; cpuS: number; wallS: number; ok: number; refused: number; status: number | string }

async function runBatch (s: Served, code: string, batch: string, body: string): Promise<Row> {
  fs.writeFileSync(`/proc/${s.pid}/clear_refs`, '5') // resets VmHWM to the current RSS
  const before = status(s.pid)
  const cpu0 = cpuSeconds(s.pid)
  const t0 = performance.now()
  let st: number | string
  let ok = 0
  let refused = 0
  try {
    const r = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', headers: { 'content-type': 'application/cloudevents-batch+json' }, body, signal: AbortSignal.timeout(300_000) })
    st = r.status
    const replies = await r.json() as Array<{ data?: { code?: string } }>
    for (const x of replies) { if (x.data?.code === undefined) ok++; else refused++ }
  } catch (err) {
    st = `failed: ${(err as Error).message}`
  }
  const wallS = (performance.now() - t0) / 1000
  const alive = s.child.exitCode === null && s.child.signalCode === null
  const after = alive ? status(s.pid) : { rssMb: NaN, hwmMb: NaN }
  const cpuS = alive ? cpuSeconds(s.pid) - cpu0 : NaN
  await new Promise((resolve) => setTimeout(resolve, 5000))
  const idle = alive ? status(s.pid) : { rssMb: NaN, hwmMb: NaN }
  return { code, batch, rssBeforeMb: before.rssMb, peakMb: after.hwmMb, rssAfterMb: after.rssMb, rssIdleMb: idle.rssMb, cpuS, wallS, ok, refused, status: st }
}

async function main (): Promise<void> {
  const { values } = parseArgs({ options: { baseline: { type: 'string' }, frames: { type: 'string' } } })
  if (values.baseline === undefined || !fs.existsSync(path.join(values.baseline, 'cli', 'fn.js'))) throw new Error('--baseline DIST: the dist/ folder of the code to compare with (it must hold cli/fn.js)')
  const frames = Number(values.frames ?? 32)
  const bomb = await sharp({ create: { width: 6000, height: 6000, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer()
  const text = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'images', 'text.png'))
  const camera = await sharp({ create: { width: 1600, height: 1200, channels: 3, background: '#ffffff' } }).composite([{ input: text, left: 560, top: 500 }]).png().toBuffer()
  const ev = (id: string, data: Buffer): Record<string, string> => ({ specversion: '1.0', id, source: '/bench', type: 'dev.bench.frame', datacontenttype: 'image/png', data_base64: data.toString('base64') })
  const batches: Array<[string, string]> = [
    [`hostile: ${frames} x 6000x6000 (${bomb.length} B each)`, JSON.stringify(Array.from({ length: frames }, (_, i) => ev(`h${i}`, bomb)))],
    [`camera: ${frames} x 1600x1200`, JSON.stringify(Array.from({ length: frames }, (_, i) => ev(`c${i}`, camera)))]
  ]
  const loadBefore = os.loadavg()
  const rows: Row[] = []
  const codes: Array<[string, string, Record<string, unknown>]> = [
    ['baseline', path.resolve(values.baseline), {}],
    ['ours', path.join(repoRoot, 'dist'), {}],
    ['ours, cpuMemArena: false', path.join(repoRoot, 'dist'), { cpuMemArena: false }]
  ]
  // A fresh process for every batch, so no row starts from what an earlier batch left behind.
  for (const [name, body] of batches) {
    for (const [code, dist, config] of codes) {
      const s = await serve(dist, config)
      try {
        const row = await runBatch(s, code, name, body)
        rows.push(row)
        process.stdout.write(JSON.stringify(row) + '\n')
      } finally {
        s.child.kill('SIGKILL')
      }
    }
  }
  const loadAfter = os.loadavg()
  const f = (n: number, d = 0): string => Number.isFinite(n) ? n.toFixed(d) : '-'
  const table = [
    '| code | batch | RSS before | peak RSS | RSS after | RSS after 5 s idle | CPU s | wall s | replies ok / refused | HTTP |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.code} | ${r.batch} | ${f(r.rssBeforeMb)} MB | ${f(r.peakMb)} MB | ${f(r.rssAfterMb)} MB | ${f(r.rssIdleMb)} MB | ${f(r.cpuS, 1)} | ${f(r.wallS, 1)} | ${r.ok} / ${r.refused} | ${r.status} |`)
  ]
  const ratio = (batch: number, key: 'peakMb' | 'cpuS' | 'rssIdleMb'): string => {
    const b = rows.find((r) => r.code === 'baseline' && r.batch === batches[batch]?.[0])?.[key] ?? NaN
    const o = rows.find((r) => r.code === 'ours' && r.batch === batches[batch]?.[0])?.[key] ?? NaN
    return f(b / o, 1)
  }
  const section = [
    '## Functions: hostile batches',
    '',
    `text-detect (\`fn serve\`, gpu off) under issue 11's hostile batch and a legitimate one, the code before the bounds (baseline, \`${path.resolve(values.baseline)}\`) and ours side by side in one run. ` +
      `Machine: ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadBefore.map((l) => l.toFixed(1)).join(' ')} before, ${loadAfter.map((l) => l.toFixed(1)).join(' ')} after (shared with other work).`,
    '',
    '```',
    `npm run build && node dist/bench/functions/hostileBatch.js --baseline <dist of the old code> --frames ${frames}`,
    '```',
    '',
    ...table,
    '',
    `Baseline / ours: peak RSS ${ratio(0, 'peakMb')}x and CPU ${ratio(0, 'cpuS')}x on the hostile batch; peak RSS ${ratio(1, 'peakMb')}x, CPU ${ratio(1, 'cpuS')}x and RSS after idle ${ratio(1, 'rssIdleMb')}x on the camera batch.`,
    ''
  ].join('\n')
  process.stdout.write('\n' + section)
  writeResultsSection(repoRoot, 'Functions: hostile batches', section)
}

main().catch((err: unknown) => { process.stderr.write(`${(err as Error).stack ?? String(err)}\n`); process.exitCode = 1 })
