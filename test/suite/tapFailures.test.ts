import t from 'tap'
import { formatFailures, shortDiag, tapFailures } from './tapFailures.js'

const log = `TAP version 14
1..3
# Subtest: dist/test/a.test.js
    # Subtest: adds
        ok 1 - should be equal
        1..1
    ok 1 - adds # time=1ms

    1..1
ok 1 - dist/test/a.test.js # time=20ms

# Subtest: dist/test/b.test.js
    # Subtest: outer
        # Subtest: inner
            not ok 1 - should be equal
              ---
              found: 2
              wanted: 3
              at:
                fileName: test/b.test.ts
              ...

            ok 2 - fine
            1..2
        not ok 1 - inner # time=3ms
          ---
          at: whatever
          ...

        1..1
    not ok 1 - outer # time=4ms

    1..1
not ok 2 - dist/test/b.test.js # time=30ms
  ---
  exitCode: 1
  ...

# Subtest: dist/test/c.test.js
    1..0
not ok 3 - dist/test/c.test.js # time=180000ms
  ---
  signal: SIGTERM
  expired: TAP
  ...

# { total: 4, pass: 2, fail: 2 }
`

t.test('the deepest failure of each file, with its path and diagnostic', async (t) => {
  const f = tapFailures(log.split('\n'))
  t.same(f.map((x) => x.path), [
    ['dist/test/b.test.js', 'outer', 'inner', 'should be equal'],
    ['dist/test/c.test.js']
  ])
  t.same(f[0]?.diag, ['found: 2', 'wanted: 3', 'at:', '  fileName: test/b.test.ts'])
  t.same(f[1]?.diag, ['signal: SIGTERM', 'expired: TAP'])
})

t.test('the diagnostic is cut at the limit; a passing log has none', async (t) => {
  const f = tapFailures(log.split('\n'), 2)
  t.same(f[0]?.diag, ['found: 2', 'wanted: 3'])
  t.same(tapFailures(log.split('\n').slice(0, 11)), [])
  t.equal(formatFailures([]), '# failures: none\n')
})

t.test('the summary names each failure on its own line', async (t) => {
  const text = formatFailures(tapFailures(log.split('\n')))
  t.match(text, /^# failures \(2\)/)
  t.match(text, /# FAIL dist\/test\/b\.test\.js > outer > inner > should be equal\n# {5}at: test\/b\.test\.ts\n# {5}found: 2\n# {5}wanted: 3\n/)
  t.match(text, /# FAIL dist\/test\/c\.test\.js\n# {5}signal: SIGTERM/)
})

t.test('a diagnostic is cut to where, what differed and the stack\'s first lines', async (t) => {
  const diag = ['compare: ===', 'at:', '  fileName: test/x.test.ts', '  lineNumber: 114', '  generated:', '    fileName: dist/test/x.test.js',
    'stack: >', '  a (x:1)', '  b (x:2)', '  c (x:3)', '  d (x:4)', 'source: >2', '  t.equal(a, 6)', 'diff: |', '  --- expected', '  -6', '  +1']
  t.same(shortDiag(diag), ['at: test/x.test.ts:114', 'diff: |', '  --- expected', '  -6', '  +1', 'stack: >', '  a (x:1)', '  b (x:2)', '  c (x:3)'])
  t.same(shortDiag(diag, 2), ['at: test/x.test.ts:114', 'diff: |'])
})
