import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig, RESERVED_ENV } from '../../core/config/loadConfig.js'
import { IOTLESS_ENV } from '../../proxy/env.js'
import { repoRoot } from '../helpers/paths.js'

t.test('the proxy\'s and fn serve\'s IOTLESS_* variables are reserved, not refused as unknown config overrides', async (t) => {
  const fnServe = [...readFileSync(join(repoRoot, 'cli/fn.ts'), 'utf8').matchAll(/env\.(IOTLESS_[A-Z0-9_]+)/g)].map((m) => m[1] as string)
  t.ok(fnServe.includes('IOTLESS_FN_MODE') && fnServe.includes('IOTLESS_EFFECTS_URL'), `fn serve's variables found in cli/fn.ts (${fnServe.join(', ')})`)
  const missing = [...Object.keys(IOTLESS_ENV), ...fnServe].filter((n) => !RESERVED_ENV.has(n))
  t.same(missing, [], 'every one is in RESERVED_ENV')
  const env: NodeJS.ProcessEnv = { IOTLESS_FN_NAME: 'alert', IOTLESS_EFFECTS_URL: 'sqlite:/tmp/x.db', IOTLESS_PROXY_KEEPALIVE_IDLE_MS: '5000' }
  const loaded = loadConfig({ file: join(repoRoot, 'iotless.yaml'), env })
  t.ok(loaded.config.routes.length > 0, 'iotless up loads its config beside them')
  t.throws(() => loadConfig({ file: join(repoRoot, 'iotless.yaml'), env: { IOTLESS_NOT_A_SETTING: '1' } }), { code: 'CONFIG_ENV_INVALID' }, 'an unknown one is still refused')
})
