import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import sharp from 'sharp'
import { CloudEvent } from 'cloudevents'
import { toBinaryHeaders } from '../../core/cloudEventHttp.js'
import { isIotlessError } from '../../core/errors.js'
import { isFunctionInputError } from '../../functions/sdk/functionInputError.js'
import { Registry } from 'prom-client'
import { Instance } from '../../adapters/runtime/instance.js'
import { createMetrics } from '../../core/metrics.js'
import { createOnnxSession, reportProvider } from '../../functions/onnx/createOnnxSession.js'
import { defineFunction } from '../../functions/sdk/defineFunction.js'
import { startKnativeServer } from '../../functions/sdk/knativeServer.js'
import { startOpenWhiskServer } from '../../functions/sdk/openwhiskServer.js'
import textDetect, { DET_MODEL_PATH, type TextDetectReply, type TextDetectState } from '../../functions/text-detect/index.js'
import type { TextBox } from '../../functions/text-detect/dbPostprocess.js'
import { repoRoot } from '../helpers/paths.js'

const fixtures = resolve(repoRoot, 'test/fixtures/images')
const textPng = readFileSync(resolve(fixtures, 'text.png'))
const blankPng = readFileSync(resolve(fixtures, 'blank.png'))
/** Dark-pixel extents of the two lines of text.png (README there): [x0, y0, x1, y1]. */
const LINES: Array<[number, number, number, number]> = [[44, 44, 309, 69], [43, 123, 253, 149]]

function bbox (b: TextBox): [number, number, number, number] {
  const xs = b.points.map((p) => p[0]); const ys = b.points.map((p) => p[1])
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]
}

/** Each line of text has one box that covers it, and no box strays more than `slack` px beyond its line. */
function checkBoxes (t: Test, boxes: TextBox[], scale = 1, slack = 16): void {
  t.equal(boxes.length, LINES.length, `${LINES.length} boxes, one per line`)
  LINES.forEach((line, i) => {
    const [x0, y0, x1, y1] = line.map((v) => v * scale) as [number, number, number, number]
    const b = boxes[i]
    if (b === undefined) { t.fail(`no box for line ${i}`); return }
    const [bx0, by0, bx1, by1] = bbox(b)
    t.ok(bx0 <= x0 + 2 * scale && by0 <= y0 + 2 * scale && bx1 >= x1 - 2 * scale && by1 >= y1 - 2 * scale, `box ${i} [${bbox(b).join(',')}] covers line ${i} [${[x0, y0, x1, y1].join(',')}]`)
    t.ok(bx0 >= x0 - slack * scale && by0 >= y0 - slack * scale && bx1 <= x1 + slack * scale && by1 <= y1 + slack * scale, `box ${i} stays within ${slack * scale} px of the text`)
    t.ok(b.score >= 0.6, 'scored at or above box_thresh')
  })
}

// One model session for the whole file: init once, then serve it through hosts that reuse its state.
const state = await (textDetect.init as (ctx: { name: string; config: Record<string, unknown> }) => Promise<TextDetectState>)({ name: 'text-detect', config: { gpu: 'auto' } })
const shared = defineFunction<TextDetectState>({ init: () => state, handle: textDetect.handle, handleBatch: textDetect.handleBatch as NonNullable<typeof textDetect.handleBatch> })
// The Knative host exports metrics; its init reports the provider, as text-detect's own init does.
const registry = new Registry()
const metrics = createMetrics(registry, { defaultMetrics: false })
const withMetrics = defineFunction<TextDetectState>({
  init: ({ metrics }) => { reportProvider(metrics, 'text-detect', state.det.provider); return { ...state, metrics } },
  handle: textDetect.handle,
  handleBatch: textDetect.handleBatch as NonNullable<typeof textDetect.handleBatch>
})
const kn = await startKnativeServer(withMetrics, { name: 'text-detect', config: {}, metrics }, { port: 0, host: '127.0.0.1', registry })
t.teardown(async () => { await kn.shutdown() })
await kn.ready
const base = `http://127.0.0.1:${kn.port}/`
const ATTRS = { specversion: '1.0', id: 'f1', source: '/cam/1', type: 'dev.test.frame', subject: 'cams/1' }
const post = (body: Buffer, contentType = 'image/png') => fetch(base, { method: 'POST', headers: toBinaryHeaders({ ...ATTRS, datacontenttype: contentType }), body })

t.test('gpu: auto uses CUDA where it loads, else the CPU with the reason kept', async (t) => {
  t.ok(state.det.provider === 'cuda' || (state.det.provider === 'cpu' && typeof state.det.fallbackReason === 'string'), `provider ${state.det.provider}`)
})

t.test('gpu: on fails at init with FUNCTION_GPU_UNAVAILABLE when CUDA cannot load', async (t) => {
  let cudaLoads = true
  try {
    const s = await createOnnxSession(DET_MODEL_PATH, 'on')
    t.equal(s.provider, 'cuda', 'CUDA loaded: the session is on it')
  } catch (err) {
    cudaLoads = false
    t.ok(isIotlessError(err, 'FUNCTION_GPU_UNAVAILABLE'), 'the error has its code')
    t.match((err as Error).message, /ONNXRUNTIME_NODE_INSTALL=cuda12/, 'and says how to get CUDA')
  }
  const off = await createOnnxSession(DET_MODEL_PATH, 'off')
  t.equal(off.provider, 'cpu', 'gpu: off is the CPU')
  if (cudaLoads) return
  // The same through the image entrypoint (`node dist/cli/fn.js serve`): init fails, the process exits 1 with the code.
  const c = spawn(process.execPath, [resolve(repoRoot, 'dist/cli/fn.js'), 'serve', 'text-detect', '--port', '0', '--host', '127.0.0.1', '--config', '{"gpu":"on"}'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let err = ''
  c.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const code = await new Promise<number | null>((resolve) => c.once('exit', resolve))
  t.equal(code, 1)
  t.match(err, /iotless: FUNCTION_GPU_UNAVAILABLE: gpu: on, but onnxruntime's CUDA execution provider cannot load/)
})

t.test('boxes where the text is, none on a blank image (Knative, binary mode)', async (t) => {
  const r = await post(textPng)
  t.equal(r.status, 200)
  t.equal(r.headers.get('ce-provider'), state.det.provider, 'the provider is in the reply event\'s metadata')
  const data = await r.json() as TextDetectReply
  t.equal(data.width, 480)
  t.equal(data.height, 200)
  t.equal(data.provider, state.det.provider)
  checkBoxes(t, data.boxes)
  const blank = await (await post(blankPng)).json() as TextDetectReply
  t.same(blank.boxes, [], 'no boxes on a blank image')
})

t.test('JPEG, and a large frame whose boxes are scaled back', async (t) => {
  const jpeg = await sharp(textPng).jpeg({ quality: 85 }).toBuffer()
  checkBoxes(t, ((await (await post(jpeg, 'image/jpeg')).json()) as TextDetectReply).boxes)
  const big = await sharp(textPng).resize(1920, 800, { kernel: 'cubic' }).png().toBuffer()
  const data = await (await post(big)).json() as TextDetectReply
  t.equal(data.width, 1920)
  checkBoxes(t, data.boxes, 4)
})

t.test('bad input gets a clear error and the instance keeps serving', async (t) => {
  const truncated = textPng.subarray(0, 300)
  const garbage = Buffer.from('this is not an image at all, just some bytes')
  const cases: Array<[string, Response]> = [
    ['truncated PNG', await post(truncated)],
    ['garbage', await post(garbage, 'application/octet-stream')],
    ['empty body', await post(Buffer.alloc(0))],
    ['JSON instead of an image', await fetch(base, { method: 'POST', headers: toBinaryHeaders({ ...ATTRS, datacontenttype: 'application/json' }), body: '{"image":"x"}' })],
    ['GIF', await post(await sharp(blankPng).gif().toBuffer(), 'image/gif')]
  ]
  for (const [what, r] of cases) {
    t.equal(r.status, 400, what)
    const body = await r.json() as { code: string; error: string }
    t.equal(body.code, 'FUNCTION_BAD_INPUT', what)
    t.ok(body.error.length > 10, `${what}: ${body.error}`)
  }
  t.equal((await post(textPng)).status, 200, 'still serving')
})

t.test('a batch is one padded inference; per-event errors stay per event', async (t) => {
  const single = (await (await post(textPng)).json() as TextDetectReply).boxes
  const small = await sharp(textPng).resize(240, 100).png().toBuffer()
  const ev = (id: string, data: Buffer) => ({ ...ATTRS, id, datacontenttype: 'image/png', data_base64: data.toString('base64') })
  const r = await fetch(base, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: JSON.stringify([ev('a', textPng), ev('b', blankPng), ev('c', Buffer.from('corrupt')), ev('d', small)])
  })
  t.equal(r.status, 200)
  const replies = await r.json() as Array<{ inreplyto: string; type: string; data: TextDetectReply & { code?: string } }>
  t.same(replies.map((x) => x.inreplyto), ['a', 'b', 'c', 'd'])
  const [a, b, c, d] = replies as [typeof replies[0], typeof replies[0], typeof replies[0], typeof replies[0]]
  t.equal(a.data.batchSize, 3, 'the three good frames ran as one batch')
  checkBoxes(t, a.data.boxes)
  a.data.boxes.forEach((box, i) => {
    const s = single[i]
    if (s === undefined) return
    const diff = Math.max(...box.points.flatMap((p, k) => [Math.abs(p[0] - (s.points[k]?.[0] ?? 0)), Math.abs(p[1] - (s.points[k]?.[1] ?? 0))]))
    t.ok(diff <= 3, `batched box ${i} within 3 px of the single run (${diff})`)
  })
  t.same(b.data.boxes, [])
  t.equal(c.type, 'dev.iotless.function.error')
  t.equal(c.data.code, 'FUNCTION_BAD_INPUT')
  t.equal(d.data.width, 240)
  t.ok(d.data.boxes.length >= 1, 'text found in the half-size frame too (padded into the batch)')
})

t.test('as an OpenWhisk action: the params are a CloudEvent with data_base64', async (t) => {
  const ow = await startOpenWhiskServer(shared, { name: 'text-detect', config: {} }, { port: 0, host: '127.0.0.1', env: {}, out: { write: () => true }, err: { write: () => true } })
  t.teardown(() => ow.close())
  const owPost = async (path: string, body: unknown) => {
    const r = await fetch(`http://127.0.0.1:${ow.port}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
    return { status: r.status, json: await r.json() as Record<string, unknown> }
  }
  t.equal((await owPost('/init', { value: {} })).status, 200)
  const ok = await owPost('/run', { value: { ...ATTRS, datacontenttype: 'image/png', data_base64: textPng.toString('base64') }, activation_id: 'x', deadline: String(Date.now() + 60_000) })
  t.equal(ok.status, 200)
  checkBoxes(t, (ok.json as unknown as TextDetectReply).boxes)
  const bad = await owPost('/run', { value: { ...ATTRS, datacontenttype: 'image/png', data_base64: 'AAAA' } })
  t.equal(bad.status, 200, 'bad input is an application error')
  t.match(bad.json, { error: { code: 'FUNCTION_BAD_INPUT' } })
  t.equal((await owPost('/run', { value: { ...ATTRS, datacontenttype: 'image/png', data_base64: blankPng.toString('base64') } })).status, 200, 'still serving')
})

t.test('the provider is a metric label', async (t) => {
  await post(textPng)
  const text = await (await fetch(base + 'metrics')).text()
  t.match(text, new RegExp(`^iotless_function_execution_provider\\{function="text-detect",provider="${state.det.provider}"\\} 1$`, 'm'))
  const count = Number(/^iotless_inference_duration_seconds_count\{function="text-detect",provider="[a-z]+"\} (\d+)$/m.exec(text)?.[1])
  t.ok(count >= 1, `model runs are timed by provider (${count})`)
})

t.test('as a local-pool instance: a child process with the model, ready after init', async (t) => {
  const inst = new Instance({ name: 'text-detect', modulePath: resolve(repoRoot, 'dist/functions/text-detect/index.js'), config: { gpu: 'auto' } }, { ...process.env })
  t.teardown(() => inst.stop())
  const port = await inst.whenReady()
  const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: toBinaryHeaders({ ...ATTRS, datacontenttype: 'image/png' }), body: textPng })
  t.equal(r.status, 200)
  checkBoxes(t, (await r.json() as TextDetectReply).boxes)
  const bad = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: toBinaryHeaders({ ...ATTRS, datacontenttype: 'image/png' }), body: Buffer.from('nope') })
  t.equal(bad.status, 400)
  t.match(await bad.json(), { code: 'FUNCTION_BAD_INPUT' })
})

/** A PNG of one colour: a few KB however large, the shape of a decompression bomb. */
function solidPng (width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#808080' } }).png({ compressionLevel: 9 }).toBuffer()
}

t.test('a frame over maxImagePixels is refused from its header, before any decode', async (t) => {
  const bomb = await solidPng(6000, 6000)
  t.ok(bomb.length < 200_000, `6000 x 6000 PNG is ${bomb.length} bytes`)
  const r = await post(bomb)
  t.equal(r.status, 400)
  const body = await r.json() as { code: string; error: string }
  t.equal(body.code, 'FUNCTION_BAD_INPUT')
  t.match(body.error, /^maxImagePixels: the image is 6000 x 6000 = 36000000 pixels, over the per-image limit \(the limit is 16777216; .*config\.maxImagePixels\)/)
  t.equal((await post(textPng)).status, 200, 'still serving')
})

t.test('the issue\'s hostile batch (32 frames of 6000 x 6000) is refused frame by frame; a batch past maxBatchPixels is cut there', async (t) => {
  const bomb = await solidPng(6000, 6000)
  const ev = (id: string, data: Buffer) => ({ ...ATTRS, id, datacontenttype: 'image/png', data_base64: data.toString('base64') })
  const r = await fetch(base, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents-batch+json' },
    body: JSON.stringify(Array.from({ length: 32 }, (_, i) => ev(`h${i}`, bomb)))
  })
  t.equal(r.status, 200)
  const replies = await r.json() as Array<{ data: { code?: string; error?: string } }>
  t.equal(replies.length, 32)
  t.ok(replies.every((x) => x.data.code === 'FUNCTION_BAD_INPUT' && /^maxImagePixels:/.test(x.data.error ?? '')), 'every frame refused with the per-image limit')

  // Under a small budget: frames of 1000 x 1000 (1 Mpx), 2.5 Mpx per batch: two decode, the rest are refused.
  const tight: TextDetectState = { ...state, maxImagePixels: 1_000_000, maxBatchPixels: 2_500_000 }
  const mega = await solidPng(1000, 1000)
  const events = ['a', 'b', 'c', 'd'].map((id) => new CloudEvent<unknown>({ ...ATTRS, id, datacontenttype: 'image/png', data: mega }, false))
  const results = await (textDetect.handleBatch as NonNullable<typeof textDetect.handleBatch>)(events, { name: 'text-detect', config: {}, state: tight })
  t.notOk(results[0] instanceof Error)
  t.notOk(results[1] instanceof Error)
  for (const i of [2, 3]) {
    t.ok(results[i] instanceof Error && isFunctionInputError(results[i]), `frame ${i} refused`)
    t.match((results[i] as Error).message, /^maxBatchPixels: .*\(2000000 taken by the frames before this one\).*the limit is 2500000/)
  }
})

t.test('a batch larger than maxInferencePixels runs in several model runs, with the same boxes', async (t) => {
  const single = (await (await post(textPng)).json() as TextDetectReply).boxes
  // 480 x 200 resizes to 480 x 192: a budget of two such frames per run gives runs of 2, 2 and 1.
  const split: TextDetectState = { ...state, maxInferencePixels: 2 * 480 * 192 }
  const events = ['a', 'b', 'c', 'd', 'e'].map((id) => new CloudEvent<unknown>({ ...ATTRS, id, datacontenttype: 'image/png', data: textPng }, false))
  const results = await (textDetect.handleBatch as NonNullable<typeof textDetect.handleBatch>)(events, { name: 'text-detect', config: {}, state: split })
  const data = results.map((r) => (r as { data: TextDetectReply }).data)
  t.same(data.map((d) => d.batchSize), [2, 2, 2, 2, 1])
  for (const d of data) t.same(d.boxes.length, single.length, 'one box per line in every run')
  checkBoxes(t, data[4]?.boxes ?? [])
})

t.test('bad work-bound settings fail init, naming the key', async (t) => {
  const init = textDetect.init as (ctx: { name: string; config: Record<string, unknown> }) => Promise<TextDetectState>
  await t.rejects(init({ name: 'text-detect', config: { gpu: 'off', maxImagePixels: 0 } }), /config\.maxImagePixels must be a positive integer/)
  await t.rejects(init({ name: 'text-detect', config: { gpu: 'off', maxImagePixels: 1000, maxBatchPixels: 10 } }), /config\.maxBatchPixels \(10\) must be at least config\.maxImagePixels \(1000\)/)
})
