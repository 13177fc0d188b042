import t from 'tap'
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { INTEGRATION_TESTS, isIntegrationTest, unitTests } from './integrationTests.js'
import { repoRoot } from './helpers/paths.js'

t.test('every entry of the integration list exists, so a renamed test cannot fall out of it unnoticed', async (t) => {
  for (const e of INTEGRATION_TESTS) {
    const p = join(repoRoot, 'test', e)
    t.ok(existsSync(p) && (e.endsWith('/') ? statSync(p).isDirectory() : statSync(p).isFile()), `test/${e}`)
  }
})

t.test('folders and files: what the fast lane leaves out', async (t) => {
  t.ok(isIntegrationTest('e2e/embedded.test.ts'))
  t.ok(isIntegrationTest('proxy/proxy.test.ts'))
  t.notOk(isIntegrationTest('proxy/http1.test.ts'))
  t.notOk(isIntegrationTest('e2e.test.ts'), 'a folder entry matches only inside the folder')
  t.same(unitTests(['core/clock.test.ts', 'e2e/embedded.test.ts', 'helpers/paths.ts', 'ingress/a.test.ts']), ['core/clock.test.ts', 'ingress/a.test.ts'])
})
