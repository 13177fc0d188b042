/**
 * Sensor readings as the ULB library sensor network sent them (../shared/traces/ulb-sensornet-library1,
 * R*.txt): `ts_ms node_id seq int_temp int_volt humidity temp PAR TSR`, numbers with decimal commas, lines
 * ending in CRLF. Sequence numbers of 1000 or more were written with a space ("1 000"; in R3.txt a Latin-1
 * no-break space), giving one field more.
 * Devices may also publish JSON: { "temp": 23.4 } (or "23,4"), or a bare number.
 */
export interface Reading {
  timestampMs?: number
  node?: number
  seq?: number
  internalTempC?: number
  internalVoltageV?: number
  humidityPct?: number
  temperatureC: number
  par?: number
  tsr?: number
}

export class ReadingError extends Error {}

/** "22,08" -> 22.08; rejects anything that is not a plain decimal number. */
export function parseDecimal (text: string, field: string): number {
  const t = text.trim().replace(',', '.')
  if (!/^[-+]?(\d+(\.\d*)?|\.\d+)$/.test(t)) throw new ReadingError(`${field}: "${text}" is not a number`)
  return Number(t)
}

export function parseSensorLine (line: string): Reading {
  const fields = line.trim().split(/\s+/)
  if (fields.length === 10 && /^\d{1,3}$/.test(fields[2] ?? '') && /^\d{3}$/.test(fields[3] ?? '')) {
    // "1 000": the sequence number split in two at the thousands. Only then: any other tenth field would
    // shift every later one, and the humidity would be read as the temperature.
    fields.splice(2, 2, `${fields[2] ?? ''}${fields[3] ?? ''}`)
  }
  if (fields.length !== 9) throw new ReadingError(`expected 9 fields (ts node seq int_temp int_volt humidity temp PAR TSR), got ${fields.length}`)
  const f = fields as [string, string, string, string, string, string, string, string, string]
  return {
    timestampMs: parseDecimal(f[0], 'timestamp'),
    node: parseDecimal(f[1], 'node_id'),
    seq: parseDecimal(f[2], 'seq'),
    internalTempC: parseDecimal(f[3], 'int_temp'),
    internalVoltageV: parseDecimal(f[4], 'int_volt'),
    humidityPct: parseDecimal(f[5], 'humidity'),
    temperatureC: parseDecimal(f[6], 'temp'),
    par: parseDecimal(f[7], 'PAR'),
    tsr: parseDecimal(f[8], 'TSR')
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The ULB trace files are Latin-1, not UTF-8: R3.txt writes the "1 000" split with a no-break space, byte 0xA0,
 * which UTF-8 would turn into U+FFFD and leave the field unreadable. Bytes that are not UTF-8 are read as
 * Latin-1, where 0xA0 is U+00A0 and splits fields like any other white space.
 */
function decodeLine (bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
  }
}

/** Accepts a parsed JSON value or raw bytes, as the adapter hands them over. */
export function parseReading (data: unknown): Reading {
  if (typeof data === 'number') return { temperatureC: data }
  if (Buffer.isBuffer(data) || data instanceof Uint8Array) return parseSensorLine(decodeLine(data))
  if (typeof data === 'string') return parseSensorLine(data)
  if (typeof data === 'object' && data !== null) {
    const o = data as Record<string, unknown>
    const t = o.temp ?? o.temperature ?? o.temperatureC
    if (typeof t === 'number') return { temperatureC: t }
    if (typeof t === 'string') return { temperatureC: parseDecimal(t, 'temp') }
    throw new ReadingError('a JSON reading needs a numeric "temp" field')
  }
  throw new ReadingError('empty reading')
}
