// docs/errors.md and ERROR_CODES must list the same codes, as fastify's test/internals/errors.test.js checks
// its docs/Reference/Errors.md against lib/errors.js.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { ERROR_CODES, IotlessError, isIotlessError, type ErrorCode } from '../../core/errors.js'

const docsPath = new URL('../../../docs/errors.md', import.meta.url)

interface DocRow { code: string; exitStatus: string | undefined; cells: string[]; line: number }

/** Table rows whose first cell is an error code, `CODE` or CODE. */
function documentedRows (markdown: string): DocRow[] {
  const rows: DocRow[] = []
  markdown.split('\n').forEach((text, i) => {
    const line = text.trim()
    if (!line.startsWith('|')) return
    const cells = line.replace(/^\||\|$/g, '').split('|').map((c) => c.trim())
    const m = /^`?([A-Z][A-Z0-9_]+)`?$/.exec(cells[0] ?? '')
    if (m === null) return
    const status = cells[1]
    rows.push({ code: m[1] as string, exitStatus: status !== undefined && /^\d+$/.test(status) ? status : undefined, cells, line: i + 1 })
  })
  return rows
}

const markdown = readFileSync(docsPath, 'utf8')
const rows = documentedRows(markdown)
const defined = Object.keys(ERROR_CODES)

t.test('the parser finds the table', async (t) => {
  t.ok(rows.length > 0, 'docs/errors.md has code rows')
  t.same(documentedRows('| `A_B` | 2 | x | y |\n| code | exit status |\n| --- | --- |\n|CD| s |'), [
    { code: 'A_B', exitStatus: '2', cells: ['`A_B`', '2', 'x', 'y'], line: 1 },
    { code: 'CD', exitStatus: undefined, cells: ['CD', 's'], line: 4 }
  ])
})

t.test('every code in ERROR_CODES is documented in docs/errors.md', async (t) => {
  const documented = new Set(rows.map((r) => r.code))
  const missing = defined.filter((c) => !documented.has(c))
  t.same(missing, [], 'codes missing from docs/errors.md')
})

t.test('every code in docs/errors.md exists in ERROR_CODES', async (t) => {
  const extra = rows.map((r) => r.code).filter((c) => !(c in ERROR_CODES))
  t.same(extra, [], 'codes documented but not defined')
})

t.test('each code is documented once', async (t) => {
  const seen = new Map<string, number>()
  const dups: string[] = []
  for (const r of rows) {
    const first = seen.get(r.code)
    if (first !== undefined) dups.push(`${r.code} (lines ${first} and ${r.line})`)
    else seen.set(r.code, r.line)
  }
  t.same(dups, [])
})

t.test('the documented exit status matches ERROR_CODES, and every row has text', async (t) => {
  for (const r of rows) {
    if (!(r.code in ERROR_CODES)) continue
    const def = ERROR_CODES[r.code as ErrorCode]
    if (r.exitStatus !== undefined) t.equal(Number(r.exitStatus), def.exitCode, `${r.code} exit status`)
    t.ok(r.cells.slice(1).every((c) => c !== ''), `${r.code}: no empty cell`)
  }
})

t.test('ERROR_CODES entries are well formed', async (t) => {
  for (const [code, def] of Object.entries(ERROR_CODES)) {
    t.match(code, /^[A-Z][A-Z0-9_]+$/, code)
    t.ok(def.exitCode === 1 || def.exitCode === 2, `${code}: exit status 1 or 2`)
    t.ok(def.summary.length > 10, `${code}: has a summary`)
  }
})

t.test('IotlessError carries the code, its exit status, cause and details', async (t) => {
  const cause = new Error('root')
  const err = new IotlessError('CONFIG_INVALID', 'bad', { cause, details: { problems: ['x'] } })
  t.ok(err instanceof Error)
  t.equal(err.name, 'IotlessError')
  t.equal(err.code, 'CONFIG_INVALID')
  t.equal(err.exitCode, 2)
  t.equal(err.message, 'bad')
  t.equal(err.cause, cause)
  t.same(err.details, { problems: ['x'] })
  const plain = new IotlessError('PORT_IN_USE', 'taken')
  t.equal(plain.exitCode, 1)
  t.equal(plain.cause, undefined)
  t.notOk('cause' in plain, 'no cause property when none is given')
  t.equal(plain.details, undefined)
  t.ok(isIotlessError(plain))
  t.ok(isIotlessError(plain, 'PORT_IN_USE'))
  t.notOk(isIotlessError(plain, 'LISTEN_FAILED'))
  t.notOk(isIotlessError(new Error('x')))
  t.notOk(isIotlessError({ code: 'PORT_IN_USE' }))
})
