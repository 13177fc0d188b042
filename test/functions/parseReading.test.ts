import t, { type Test } from 'tap'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseDecimal, parseReading, parseSensorLine, ReadingError } from '../../functions/temperature-alert/parseReading.js'

// Compiled to dist/test/functions/: three levels up is the repository root; the traces sit beside it.
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))
const traceDir = fileURLToPath(new URL('../shared/traces/ulb-sensornet-library1/', new URL(repoRoot, 'file:///')))

/** The lines of a trace as bytes, the way a device replaying it publishes them; blank lines skipped. */
function traceRecords (name: string): Buffer[] {
  const bytes = readFileSync(traceDir + name)
  const out: Buffer[] = []
  let start = 0
  for (let i = 0; i <= bytes.length; i++) {
    if (i === bytes.length || bytes[i] === 0x0a) {
      const line = bytes.subarray(start, i)
      if (line.toString('latin1').trim() !== '') out.push(line)
      start = i + 1
    }
  }
  return out
}

/** The same lines as text (the files are Latin-1). */
function traceLines (name: string): string[] {
  return traceRecords(name).map((b) => b.toString('latin1'))
}

/** Asserts fn throws a ReadingError (tap matches a class by its name, and ReadingError keeps Error's). */
function throwsReading (t: Test, fn: () => unknown, msg: string): void {
  try {
    fn()
  } catch (err) {
    t.ok(err instanceof ReadingError, `${msg}: throws a ReadingError (${(err as Error).message})`)
    return
  }
  t.fail(`${msg}: expected a ReadingError, nothing was thrown`)
}

for (const name of ['R1.txt', 'R2.txt', 'R3.txt']) {
  t.test(`every line of the real trace ${name} parses to a plausible reading`, async (t) => {
    const records = traceRecords(name)
    const lines = traceLines(name)
    t.ok(records.length > 1000, `${name} has ${records.length} readings`)
    const failures: string[] = []
    let lastTs = -Infinity
    let outOfOrder = 0
    let minC = Infinity
    let maxC = -Infinity
    for (const [i, line] of lines.entries()) {
      try {
        const r = parseReading(records[i])
        const fields = line.trim().split(/\s+/)
        if (fields.length === 10) fields.splice(2, 1)
        if (r.temperatureC < 15 || r.temperatureC > 35) failures.push(`line ${i + 1}: temperature ${r.temperatureC}`)
        if (r.temperatureC !== Number((fields[6] ?? '').replace(',', '.'))) failures.push(`line ${i + 1}: temp is not field 7`)
        if (!Number.isInteger(r.node) || !Number.isInteger(r.seq) || (r.seq ?? -1) < 0) failures.push(`line ${i + 1}: node/seq not integers`)
        if (!((r.humidityPct ?? -1) >= 0 && (r.humidityPct ?? 101) <= 100)) failures.push(`line ${i + 1}: humidity ${r.humidityPct}`)
        if (!((r.internalVoltageV ?? 0) > 1 && (r.internalVoltageV ?? 9) < 4)) failures.push(`line ${i + 1}: voltage ${r.internalVoltageV}`)
        // 2006-11-21 .. 2006-12-31, in ms since the epoch
        if (!((r.timestampMs ?? 0) > 1_160_000_000_000 && (r.timestampMs ?? 0) < 1_170_000_000_000)) failures.push(`line ${i + 1}: timestamp ${r.timestampMs}`)
        if ((r.timestampMs ?? 0) < lastTs) outOfOrder++
        lastTs = r.timestampMs ?? lastTs
        minC = Math.min(minC, r.temperatureC)
        maxC = Math.max(maxC, r.temperatureC)
      } catch (err) {
        failures.push(`line ${i + 1}: ${(err as Error).message}: ${JSON.stringify(line)}`)
      }
    }
    t.same(failures.slice(0, 10), [], `${failures.length} failures`)
    t.equal(outOfOrder, 0, 'timestamps are in arrival order')
    t.ok(maxC > minC, `temperatures vary (${minC}..${maxC} °C)`)
    t.comment(`${name}: ${lines.length} lines, ${minC}..${maxC} °C`)
  })
}

t.test('the first line of R1.txt, field by field (decimal commas, CRLF)', async (t) => {
  const first = traceLines('R1.txt')[0] as string
  t.ok(first.endsWith('\r'), 'the trace has CRLF line ends')
  t.same(parseSensorLine(first), {
    timestampMs: 1163438041250,
    node: 20,
    seq: 1,
    internalTempC: 21.21,
    internalVoltageV: 2.81,
    humidityPct: 51.53,
    temperatureC: 22.08,
    par: 20,
    tsr: 28
  })
})

t.test('a sequence number of 1000 or more written "1 000" is joined back', async (t) => {
  // The ReadMe: "The sequence number is seperated in 2 parts when above 999, it becomes 1 000".
  const real = (traceLines('R2.txt')[5] as string).trim().split(/\s+/)
  t.equal(real.length, 9)
  const withSeq = (seq: string): string => [real[0], real[1], seq, ...real.slice(3)].join(' ')
  const r = parseSensorLine(withSeq('1 000'))
  t.equal(r.seq, 1000)
  t.equal(r.temperatureC, Number((real[6] as string).replace(',', '.')), 'the temperature is still field 7')
  t.equal(r.node, Number(real[1]))
  t.equal(parseSensorLine(withSeq('12 345')).seq, 12345)
  t.equal(parseSensorLine(withSeq('999')).seq, 999)
})

t.test('R3.txt writes the split with a Latin-1 no-break space (byte 0xA0); sent as bytes it still parses', async (t) => {
  const raw = traceRecords('R3.txt')[0] as Buffer
  t.ok(raw.includes(0xa0), 'the real line holds byte 0xA0')
  const r = parseReading(raw)
  t.ok((r.seq ?? 0) >= 1000, `seq ${r.seq}`)
  t.equal(r.node, Number(raw.toString('latin1').trim().split(/\s+/)[1]))
  // The same line as UTF-8 bytes (a device that re-encoded it) parses the same way.
  t.same(parseReading(Buffer.from(raw.toString('latin1'), 'utf8')), r)
  t.same(parseReading(raw.toString('latin1')), r, 'and as text')
  // A line that is valid UTF-8 is read as UTF-8, not Latin-1.
  t.same(parseReading(Buffer.from('1163438041250 20 1\u00a0000 21,21 2,81 51,53 22,08 20 28', 'utf8')).seq, 1000)
})

t.test('ten fields that are not a split sequence number are refused, not misread', async (t) => {
  const real = (traceLines('R1.txt')[0] as string).trim()
  // One field too many at the end: joining fields 3 and 4 would read int_temp as part of seq and
  // shift every later field, so the humidity would be taken for the temperature.
  throwsReading(t, () => parseSensorLine(real + ' 99'), 'an extra field at the end')
  throwsReading(t, () => parseSensorLine(real.replace(' 1 ', ' 1 2 ')), 'a split part that is not three digits')
  throwsReading(t, () => parseSensorLine(real.replace(' 1 ', ' 1 00 ')), 'two digits after the split')
  throwsReading(t, () => parseSensorLine(real.replace(' 1 ', ' 1 0000 ')), 'four digits after the split')
  throwsReading(t, () => parseSensorLine(real.replace(' 1 ', ' 1000 000 ')), 'four digits before the split')
})

t.test('whitespace: tabs, repeated spaces, CRLF, leading and trailing blanks', async (t) => {
  const r = parseSensorLine('  1163438041250\t20  1 21,21 2,81 51,53 22,08 20 28 \r\n')
  t.equal(r.temperatureC, 22.08)
  t.equal(r.tsr, 28)
})

t.test('parseDecimal', async (t) => {
  t.equal(parseDecimal('22,08', 'temp'), 22.08)
  t.equal(parseDecimal('22.08', 'temp'), 22.08)
  t.equal(parseDecimal('-3,5', 'temp'), -3.5)
  t.equal(parseDecimal('+7', 'temp'), 7)
  t.equal(parseDecimal(',5', 'temp'), 0.5)
  t.equal(parseDecimal('5,', 'temp'), 5)
  t.equal(parseDecimal(' 3 ', 'temp'), 3)
  for (const bad of ['', ' ', 'abc', '1,2,3', '1.2.3', '1e3', '0x10', 'NaN', 'Infinity', '--1', '1 2', ',', '.']) {
    throwsReading(t, () => parseDecimal(bad, 'temp'), JSON.stringify(bad))
  }
  t.throws(() => parseDecimal('x', 'humidity'), { message: 'humidity: "x" is not a number' })
})

t.test('parseReading: raw lines as bytes or text', async (t) => {
  const line = traceLines('R3.txt')[0] as string
  const expected = parseSensorLine(line)
  t.same(parseReading(Buffer.from(line)), expected)
  t.same(parseReading(new Uint8Array(Buffer.from(line))), expected)
  t.same(parseReading(line), expected)
})

t.test('parseReading: JSON forms', async (t) => {
  t.same(parseReading(23.4), { temperatureC: 23.4 })
  t.same(parseReading(0), { temperatureC: 0 })
  t.same(parseReading({ temp: 23.4 }), { temperatureC: 23.4 })
  t.same(parseReading({ temp: '23,4' }), { temperatureC: 23.4 })
  t.same(parseReading({ temp: '23.4' }), { temperatureC: 23.4 })
  t.same(parseReading({ temperature: 19 }), { temperatureC: 19 })
  t.same(parseReading({ temperatureC: -2.5 }), { temperatureC: -2.5 })
  t.same(parseReading({ temp: 21, temperature: 99 }), { temperatureC: 21 }, '"temp" is read first')
  t.same(parseReading(JSON.parse('{"temp": 22.5, "node": 4}')), { temperatureC: 22.5 })
})

t.test('parseReading: bad input is a ReadingError', async (t) => {
  const bad: unknown[] = [
    {}, { temp: null }, { temp: true }, { temp: 'warm' }, { temp: '' }, { temp: [22] }, { humidity: 50 }, [],
    null, undefined, true, '', '   ', 'hello', Buffer.alloc(0), Buffer.from('22,5'),
    '1163438041250 20 1 21,21 2,81 51,53 abc 20 28', '1163438041250 20 1 21,21 2,81 51,53 22,08 20'
  ]
  for (const input of bad) throwsReading(t, () => parseReading(input), String(JSON.stringify(input)))
  t.throws(() => parseReading({ temp: 'warm' }), { message: /temp: "warm" is not a number/ })
  t.throws(() => parseReading({}), { message: /numeric "temp"/ })
  t.throws(() => parseReading('1 2 3'), { message: /expected 9 fields .* got 3/ })
})
