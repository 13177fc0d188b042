import t from 'tap'
import { defineFunction, FunctionInputError, WARMUP_EVENT_TYPE, type CloudEvent } from '../../functions/sdk/index.js'
import { invoke, InvokeError, testEvent, testInstance } from '../../functions/sdk/testing.js'
import temperatureAlert from '../../functions/temperature-alert/index.js'

/** Records what the handler received, and replies with what the test asks for. */
function echo () {
  const seen: Array<CloudEvent<unknown>> = []
  const fn = defineFunction({
    handle (event) {
      seen.push(event)
      return { data: { got: Buffer.isBuffer(event.data) ? `bytes:${event.data.toString('hex')}` : event.data } }
    }
  })
  return { fn, seen }
}

async function rejection (p: Promise<unknown>): Promise<InvokeError> {
  try { await p } catch (err) { if (err instanceof InvokeError) return err; throw err }
  throw new Error('expected a rejection')
}

t.test('the handler sees data as a served function does: JSON parsed, text and bytes as a Buffer', async (t) => {
  const { fn, seen } = echo()
  t.same((await invoke(fn, testEvent({ data: { temp: 24.5 } })))?.data, { got: { temp: 24.5 } })
  t.same((await invoke(fn, testEvent({ data: 'hi' })))?.data, { got: 'bytes:6869' }, 'text/plain arrives as bytes, as over MQTT')
  t.same((await invoke(fn, testEvent({ data: Buffer.from([1, 2]) })))?.data, { got: 'bytes:0102' })
  t.same((await invoke(fn, testEvent({ data: '{"a":1}', datacontenttype: 'application/json' })))?.data, { got: { a: 1 } }, 'a JSON payload given as text is parsed')
  t.same((await invoke(fn, testEvent({ data: 'not json', datacontenttype: 'application/json' })))?.data, { got: 'bytes:6e6f74206a736f6e' }, 'JSON that does not parse arrives as bytes')
  t.equal((await invoke(fn, testEvent()))?.data !== undefined, true)
  t.equal(seen.at(-1)?.data, undefined, 'no data')
  await invoke(fn, testEvent({ data: 1, subject: 'sensors/20/reading', source: '/dev/20', type: 'x.reading', extensions: { streamid: 'café' } }))
  const e = seen.at(-1)
  t.equal(e?.subject, 'sensors/20/reading')
  t.equal(e?.source, '/dev/20')
  t.equal(e?.type, 'x.reading')
  t.equal(e?.streamid, 'café', 'extensions survive the percent-encoded header round trip')
  t.throws(() => testEvent({ extensions: { streamId: 'x' } }), /lower-case/, 'an extension name the binding refuses')
  t.throws(() => testEvent({ extensions: { id: 'x' } }), /context attribute/, 'an attribute is not an extension')
})

t.test('replies are decoded from the bytes a server would send', async (t) => {
  const fn = defineFunction({
    handle (event) {
      const d = event.data as { kind: string }
      if (d.kind === 'text') return { data: 'hello' }
      if (d.kind === 'bytes') return { data: Buffer.from([0xff]), contentType: 'image/png' }
      if (d.kind === 'none') return undefined
      if (d.kind === 'bad') return { data: 1n }
      return { data: { ok: true }, extensions: { provider: 'cpu' } }
    }
  })
  const json = await invoke(fn, testEvent({ data: { kind: 'json' } }))
  t.same(json, { data: { ok: true }, body: Buffer.from('{"ok":true}'), contentType: 'application/json', extensions: { provider: 'cpu' } })
  t.same(await invoke(fn, testEvent({ data: { kind: 'text' } })), { data: 'hello', body: Buffer.from('hello'), contentType: 'text/plain; charset=utf-8', extensions: {} })
  const bytes = await invoke(fn, testEvent({ data: { kind: 'bytes' } }))
  t.ok(Buffer.isBuffer(bytes?.data))
  t.equal(bytes?.contentType, 'image/png')
  t.equal(await invoke(fn, testEvent({ data: { kind: 'none' } })), undefined, 'no reply')
  const bad = await rejection(invoke(fn, testEvent({ data: { kind: 'bad' } })))
  t.equal(bad.code, 'FUNCTION_BAD_REPLY', 'a reply the server could not send fails the test too')
  t.equal(bad.status, 500)
})

t.test('errors carry the code and status a served function answers, and what was thrown', async (t) => {
  const boom = new RangeError('boom')
  const fn = defineFunction({
    handle (event) {
      if (event.data === undefined) throw new FunctionInputError('send { "value": n }')
      throw boom
    }
  })
  const input = await rejection(invoke(fn, testEvent()))
  t.equal(input.code, 'FUNCTION_BAD_INPUT')
  t.equal(input.status, 400)
  t.match(input.message, /send \{ "value": n \}/)
  t.ok(input.cause instanceof FunctionInputError)
  const handler = await rejection(invoke(fn, testEvent({ data: 1 })))
  t.equal(handler.code, 'FUNCTION_HANDLER_ERROR')
  t.equal(handler.status, 500)
  t.equal(handler.cause, boom, 'the original error, with its stack')
  const failing = defineFunction({ init () { throw new Error('no model') }, handle () { return undefined } })
  const init = await rejection(invoke(failing, testEvent()))
  t.equal(init.code, 'FUNCTION_INIT_FAILED')
  t.equal(init.status, 503)
})

t.test('testInstance: init once with the config, state kept between calls, batches through handleBatch', async (t) => {
  let inits = 0
  let batches = 0
  const fn = defineFunction<{ count: number; step: number }>({
    init ({ config, name }) {
      inits++
      t.equal(name, 'counter')
      return { count: 0, step: Number(config.step) }
    },
    handle (_event, { state }) {
      state.count += state.step
      return { data: state.count }
    },
    async handleBatch (events, { state }) {
      batches++
      return events.map((e) => (e.data as { skip?: boolean }).skip === true ? new FunctionInputError('skip') : { data: (state.count += state.step) })
    }
  })
  const inst = testInstance(fn, { config: { step: 2 }, name: 'counter' })
  t.equal((await inst.invoke(testEvent({ data: 0 })))?.data, 2)
  t.equal((await inst.invoke(testEvent({ data: 0 })))?.data, 4)
  const out = await inst.invokeBatch([testEvent({ data: 0 }), testEvent({ data: { skip: true } }), testEvent({ type: WARMUP_EVENT_TYPE })])
  t.equal(batches, 1, 'a batch of two or more real events goes to handleBatch')
  t.equal((out[0] as { data: unknown }).data, 6)
  t.ok(out[1] instanceof InvokeError && out[1].code === 'FUNCTION_BAD_INPUT', 'one event\'s error is its own')
  t.equal(out[2], undefined, 'a warm-up gets no reply and does not reach the handler')
  t.equal((await inst.state()).count, 6)
  t.equal(inits, 1)
})

t.test('the shipped example, through the helper', async (t) => {
  const reply = await invoke(temperatureAlert, testEvent({ data: '1163438041250 20 1 21,21 2,81 51,53 23,98 20 28', subject: 'sensors/20/reading' }))
  t.match(reply?.data, { alert: 'temperature', node: 20, temperatureC: 23.98, thresholdC: 23 })
  t.equal(await invoke(temperatureAlert, testEvent({ data: { temp: 30 } }), { config: { thresholdC: 31 } }), undefined, 'config reaches init')
  t.equal((await rejection(invoke(temperatureAlert, testEvent(), { config: { thresholdC: 'hot' } }))).code, 'FUNCTION_INIT_FAILED')
})
