import t from 'tap'
import { numberFlag } from '../../cli/numberFlag.js'
import { isIotlessError } from '../../core/errors.js'

function message (fn: () => unknown): string {
  try { fn() } catch (err) { if (isIotlessError(err, 'CLI_USAGE')) return err.message; throw err }
  throw new Error('expected a CLI_USAGE error')
}

t.test('absent: the fallback; present: the number, within its rule', async (t) => {
  t.equal(numberFlag('--n', undefined, 7, { min: 1 }), 7)
  t.equal(numberFlag('--n', '3', 7, { min: 1, integer: true }), 3)
  t.equal(numberFlag('--n', '0.5', 7, { above: 0 }), 0.5)
  t.equal(numberFlag('--port', '65535', 8080, { min: 0, max: 65535, integer: true }), 65535)
  t.equal(numberFlag('--n', ' 2 ', 7, { min: 0 }), 2, 'surrounding spaces are Number()\'s business')
})

t.test('a bad value names the flag, what was expected and what was given', async (t) => {
  t.equal(message(() => numberFlag('--minute-ms', '1.5', 1, { min: 1, integer: true })), '--minute-ms: expected a whole number >= 1, got "1.5"')
  t.equal(message(() => numberFlag('--default-memory-mb', '0', 1, { above: 0 })), '--default-memory-mb: expected a number > 0, got "0"')
  t.equal(message(() => numberFlag('--port', '70000', 1, { min: 0, max: 65535, integer: true })), '--port: expected a whole number >= 0 and <= 65535, got "70000"')
  for (const raw of ['', ' ', 'abc', 'NaN', 'Infinity', '1e400', '0x']) {
    t.match(message(() => numberFlag('--n', raw, 1, {})), /^--n: expected a number, got /, JSON.stringify(raw))
  }
  t.match(message(() => numberFlag('--n', 'x', 1, {}, 'Usage: iotless thing')), /got "x"\n\nUsage: iotless thing$/, 'the usage follows when given')
})
