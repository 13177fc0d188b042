import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { configJsonSchema, loadConfig, type ConfigProblem, type LoadConfigOptions } from '../../core/config/loadConfig.js'
import { envLeaves } from '../../core/config/envOverrides.js'
import { formatIssues, formatPath } from '../../core/config/formatIssues.js'
import { IotlessError, isIotlessError, type ErrorCode } from '../../core/errors.js'
import { checkRoutes } from '../../adapters/ingress/routeTable.js'

// Compiled to dist/test/core/config.test.js: three levels up is the repository root.
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url))

/** Writes a file in this test's own folder and returns its path. */
function write (t: Test, name: string, text: string): string {
  const dir = t.testdir()
  const file = join(dir, name)
  writeFileSync(file, text)
  return file
}

/** Calls loadConfig expecting an IotlessError with `code`; returns it. An empty env unless one is given. */
function loadFails (t: Test, code: ErrorCode, opts: LoadConfigOptions): IotlessError {
  try {
    loadConfig({ env: {}, ...opts })
  } catch (err) {
    t.ok(isIotlessError(err, code), `fails with ${code}`)
    if (!(err instanceof IotlessError)) throw err
    t.equal(err.code, code)
    t.equal(err.exitCode, 2, 'a config problem exits with status 2')
    return err
  }
  t.fail(`expected ${code}, but the config loaded`)
  return new IotlessError(code, '')
}

const MINIMAL = `
routes:
  - topic: sensors/{node}/reading
    function: alert
functions:
  alert:
    module: ./alert.js
`

t.test("the repository's iotless.yaml loads, and passes the route checks", async (t) => {
  const loaded = loadConfig({ cwd: repoRoot, env: {}, check: (cfg) => checkRoutes(cfg.routes) })
  t.equal(loaded.file, join(repoRoot, 'iotless.yaml'))
  t.equal(loaded.baseDir, join(repoRoot, '.').replace(/\/$/, ''))
  t.same(loaded.envApplied, [])
  const c = loaded.config
  t.equal(c.broker.url, '')
  t.equal(c.broker.port, 1883)
  t.equal(c.metrics.port, 9464)
  t.ok(c.routes.length >= 1)
  for (const r of c.routes) t.ok(c.functions[r.function] !== undefined, `route ${r.topic} names a defined function`)
  t.ok(c.functions['temperature-alert'] !== undefined)
})

t.test('defaults are filled in for everything left out', async (t) => {
  const file = write(t, 'iotless.yaml', '')
  const { config } = loadConfig({ file, env: {} })
  // t.has: fields added later need not break this test; docs/config.md's test makes sure they are documented.
  t.has(config.broker, {
    url: '', host: '127.0.0.1', port: 1883, clientId: 'iotless-adapter', protocol: 'auto',
    keepaliveSeconds: 30, connectTimeoutMs: 10_000, sessionExpirySeconds: 86_400
  })
  t.has(config.adapter, { maxPayloadBytes: 262_144, shutdownGraceMs: 30_000, maxInFlight: 64, maxAttempts: 5, retryBaseMs: 100 })
  t.has(config.metrics, { enabled: true, host: '127.0.0.1', port: 9464 })
  t.same(config.log, { level: 'info' })
  t.same(config.routes, [])
  t.same(config.functions, {})

  const withFn = loadConfig({ file: write(t, 'c.yaml', MINIMAL), env: {} }).config
  t.has(withFn.functions.alert, {
    module: './alert.js', concurrency: 1, maxScale: 4, keepAliveMs: 600_000, initTimeoutMs: 30_000, timeoutMs: 60_000, config: {}, env: {}
  })
  t.same(withFn.routes[0], { topic: 'sensors/{node}/reading', function: 'alert', qos: 1, type: 'io.iotless.mqtt.message', target: 'local', maxInFlight: 64, accept: 'any', responseTopics: [] })
})

t.test('without -c, iotless.yaml in cwd is read; IOTLESS_CONFIG names another file', async (t) => {
  const dir = t.testdir({ 'iotless.yaml': 'broker:\n  port: 1999\n', 'other.yaml': 'broker:\n  port: 2999\n' })
  t.equal(loadConfig({ cwd: dir, env: {} }).config.broker.port, 1999)
  const viaEnv = loadConfig({ cwd: dir, env: { IOTLESS_CONFIG: 'other.yaml' } })
  t.equal(viaEnv.config.broker.port, 2999, 'IOTLESS_CONFIG is reserved, not taken for an unknown setting')
  t.equal(viaEnv.file, join(dir, 'other.yaml'))
  t.equal(loadConfig({ cwd: dir, file: 'other.yaml', env: { IOTLESS_CONFIG: 'iotless.yaml' } }).config.broker.port, 2999, '-c wins over IOTLESS_CONFIG')
})

t.test('a misspelt key is CONFIG_INVALID naming its path and the key it probably meant', async (t) => {
  const file = write(t, 'iotless.yaml', 'broker:\n  prot: 1884\n')
  const err = loadFails(t, 'CONFIG_INVALID', { file })
  t.match(err.message, 'broker.prot: unknown key; did you mean "port"?')
  t.match(err.message, /allowed: url, host, port, clientId/)
  t.match(err.message, file, 'names the file')

  const top = loadFails(t, 'CONFIG_INVALID', { file: write(t, 'b.yaml', 'metrcs:\n  port: 1\n') })
  t.match(top.message, 'metrcs: unknown key; did you mean "metrics"?')

  const inList = loadFails(t, 'CONFIG_INVALID', {
    file: write(t, 'c.yaml', MINIMAL.replace('    function: alert', '    function: alert\n    replyy: out/{node}'))
  })
  t.match(inList.message, 'routes[0].replyy: unknown key; did you mean "reply"?')

  const inMap = loadFails(t, 'CONFIG_INVALID', {
    file: write(t, 'd.yaml', MINIMAL + '    concurency: 2\n')
  })
  t.match(inMap.message, 'functions.alert.concurency: unknown key; did you mean "concurrency"?')

  const farOff = loadFails(t, 'CONFIG_INVALID', { file: write(t, 'e.yaml', 'broker:\n  zzzzzzzzzz: 1\n') })
  t.match(farOff.message, 'broker.zzzzzzzzzz: unknown key (allowed:')
  t.notMatch(farOff.message, 'did you mean', 'no suggestion when nothing is close')
})

t.test('a wrong type or range names the path and what was expected; all problems are reported at once', async (t) => {
  const file = write(t, 'iotless.yaml', [
    'broker:',
    '  port: "abc"',
    '  protocol: "4"',
    'adapter:',
    '  maxAttempts: 0',
    'metrics:',
    '  enabled: "yes"',
    'routes:',
    '  - topic: a/b',
    '    function: alert',
    '    qos: 3',
    'functions:',
    '  Bad_Name:',
    '    module: x.js',
    '  alert:',
    '    module: ./alert.js',
    '    concurrency: 1.5'
  ].join('\n'))
  const err = loadFails(t, 'CONFIG_INVALID', { file })
  const problems = (err.details?.problems ?? []) as string[]
  const line = (prefix: string): string | undefined => problems.find((p) => p.startsWith(prefix + ':'))
  t.match(line('broker.port'), /expected (number|int)/i)
  t.match(line('broker.protocol'), /auto/)
  t.match(line('broker.protocol'), /3\.1\.1/)
  t.match(line('adapter.maxAttempts'), />=\s*1|too small/i)
  t.match(line('metrics.enabled'), /expected boolean/i)
  t.match(line('routes[0].qos'), /./)
  t.match(line('functions.alert.concurrency'), /int/i)
  t.match(line('functions.Bad_Name'), /invalid key: function names are lower-case letters, digits and dashes/, 'a bad function name is explained')
  t.ok(problems.length >= 7, `every problem reported (${problems.length})`)
  for (const p of problems) t.match(err.message, p, 'each problem is in the message')
})

t.test('a JSON config file works', async (t) => {
  const file = write(t, 'iotless.json', JSON.stringify({
    broker: { port: 1885 },
    routes: [{ topic: 'a/+', function: 'f' }],
    functions: { f: { module: './f.js' } }
  }))
  const { config } = loadConfig({ file, env: {} })
  t.equal(config.broker.port, 1885)
  t.equal(config.routes[0]?.function, 'f')

  const bad = loadFails(t, 'CONFIG_PARSE', { file: write(t, 'bad.json', '{"broker": {') })
  t.match(bad.message, 'bad.json')
  // A .json file is read as JSON, not YAML: YAML-only syntax is a parse error.
  loadFails(t, 'CONFIG_PARSE', { file: write(t, 'yamlish.json', 'broker:\n  port: 1\n') })
})

t.test('a missing file is CONFIG_NOT_FOUND naming it', async (t) => {
  const dir = t.testdir({})
  const explicit = loadFails(t, 'CONFIG_NOT_FOUND', { file: 'nope.yaml', cwd: dir })
  t.match(explicit.message, join(dir, 'nope.yaml'))
  const implicit = loadFails(t, 'CONFIG_NOT_FOUND', { cwd: dir })
  t.match(implicit.message, /no iotless\.yaml in/)
  t.match(implicit.message, '-c FILE')
  const isDir = loadFails(t, 'CONFIG_NOT_FOUND', { file: dir })
  t.match(isDir.message, /cannot read config file/)
})

t.test('invalid YAML is CONFIG_PARSE naming the file', async (t) => {
  const file = write(t, 'iotless.yaml', 'broker:\n  port: [1883\n  host: x\n')
  const err = loadFails(t, 'CONFIG_PARSE', { file })
  t.match(err.message, file)
  const tabs = loadFails(t, 'CONFIG_PARSE', { file: write(t, 'dup.yaml', 'broker:\n  port: 1\n  port: 2\n') })
  t.match(tabs.message, /unique|duplicate/i, 'a duplicated key is a parse error, not silently overwritten')
})

t.test('a file whose top level is not a mapping is CONFIG_INVALID', async (t) => {
  t.match(loadFails(t, 'CONFIG_INVALID', { file: write(t, 'list.yaml', '- a\n- b\n') }).message, /expected a mapping of settings, got a list/)
  t.match(loadFails(t, 'CONFIG_INVALID', { file: write(t, 'str.yaml', 'hello\n') }).message, /got string/)
})

t.test('capacity.maxConcurrentStarts: the machine\'s CPUs by default, a whole number >= 0 or `cpus`, named when wrong', async (t) => {
  const plain = write(t, 'plain.yaml', 'capacity: {}\n')
  t.equal(loadConfig({ file: plain, env: {} }).config.capacity.maxConcurrentStarts, 'cpus', 'the default')
  const file = write(t, 'gate.yaml', 'capacity:\n  maxConcurrentStarts: 0\n')
  t.equal(loadConfig({ file, env: {} }).config.capacity.maxConcurrentStarts, 0, '0: no gate')
  t.equal(loadConfig({ file, env: { IOTLESS_CAPACITY_MAX_CONCURRENT_STARTS: '3' } }).config.capacity.maxConcurrentStarts, 3, 'by variable')
  for (const bad of ['-1', '1.5', 'many']) {
    t.match(loadFails(t, 'CONFIG_INVALID', { file: write(t, `bad${bad}.yaml`, `capacity:\n  maxConcurrentStarts: ${bad}\n`) }).message, /capacity\.maxConcurrentStarts/, bad)
  }
})

t.test('capacity.spareInstances and capacity.instances (an integer or a word) can be set by IOTLESS_* variables', async (t) => {
  const file = write(t, 'iotless.yaml', 'capacity:\n  spareInstances: 2\n')
  t.equal(loadConfig({ file, env: {} }).config.capacity.spareInstances, 2, 'the file alone')
  const set = loadConfig({ file, env: { IOTLESS_CAPACITY_SPARE_INSTANCES: '0', IOTLESS_CAPACITY_INSTANCES: '6' } })
  t.equal(set.config.capacity.spareInstances, 0, 'digits are the integer')
  t.equal(set.config.capacity.instances, 6)
  const words = loadConfig({ file, env: { IOTLESS_CAPACITY_SPARE_INSTANCES: 'auto', IOTLESS_CAPACITY_INSTANCES: 'machine' } })
  t.equal(words.config.capacity.spareInstances, 'auto', 'the word')
  t.equal(words.config.capacity.instances, 'machine')
  t.ok(words.envApplied.includes('IOTLESS_CAPACITY_SPARE_INSTANCES'))
  // Out of range and unknown words are the schema's to refuse, at the field's path.
  t.match(loadFails(t, 'CONFIG_INVALID', { file, env: { IOTLESS_CAPACITY_SPARE_INSTANCES: '17' } }).message, /capacity\.spareInstances/)
  t.match(loadFails(t, 'CONFIG_INVALID', { file, env: { IOTLESS_CAPACITY_SPARE_INSTANCES: 'some' } }).message, /capacity\.spareInstances/)
  t.match(loadFails(t, 'CONFIG_INVALID', { file, env: { IOTLESS_CAPACITY_SPARE_INSTANCES: '1.5' } }).message, /capacity\.spareInstances/)
})

t.test('IOTLESS_* variables override the file and are type-checked', async (t) => {
  const file = write(t, 'iotless.yaml', 'broker:\n  port: 1883\n')
  const loaded = loadConfig({
    file,
    env: {
      IOTLESS_BROKER_PORT: '1884',
      IOTLESS_ADAPTER_MAX_PAYLOAD_BYTES: '1024',
      IOTLESS_METRICS_ENABLED: 'false',
      IOTLESS_LOG_LEVEL: 'debug',
      IOTLESS_BROKER_URL: 'mqtt://127.0.0.1:1883',
      PATH: '/usr/bin',
      NOT_IOTLESS_BROKER_PORT: 'x'
    }
  })
  t.equal(loaded.config.broker.port, 1884)
  t.equal(loaded.config.adapter.maxPayloadBytes, 1024)
  t.equal(loaded.config.metrics.enabled, false)
  t.equal(loaded.config.log.level, 'debug')
  t.equal(loaded.config.broker.url, 'mqtt://127.0.0.1:1883')
  t.same([...loaded.envApplied].sort(), ['IOTLESS_ADAPTER_MAX_PAYLOAD_BYTES', 'IOTLESS_BROKER_PORT', 'IOTLESS_BROKER_URL', 'IOTLESS_LOG_LEVEL', 'IOTLESS_METRICS_ENABLED'])

  t.equal(loadConfig({ file, env: { IOTLESS_METRICS_ENABLED: '0' } }).config.metrics.enabled, false)
  t.equal(loadConfig({ file, env: { IOTLESS_METRICS_ENABLED: '1' } }).config.metrics.enabled, true)

  const nan = loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { IOTLESS_BROKER_PORT: 'abc' } })
  t.match(nan.message, 'IOTLESS_BROKER_PORT="abc": expected a decimal integer (digits only, e.g. 1883) for broker.port')
  loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { IOTLESS_BROKER_PORT: '' } })
  loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { IOTLESS_BROKER_PORT: ' ' } })
  t.match(loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { IOTLESS_METRICS_ENABLED: 'yes' } }).message, /expected true or false for metrics\.enabled/)

  const unknown = loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { IOTLESS_FOO: '1' } })
  t.match(unknown.message, 'IOTLESS_FOO is not a known setting')
  t.match(unknown.message, 'IOTLESS_BROKER_PORT', 'lists the known variables')

  // A number of the right type but out of range is caught by the schema, at the field's path.
  const range = loadFails(t, 'CONFIG_INVALID', { file, env: { IOTLESS_BROKER_PORT: '70000' } })
  t.match(range.message, /broker\.port: .*65535/)
  const frac = loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { IOTLESS_BROKER_PORT: '1883.5' } })
  t.match(frac.message, /IOTLESS_BROKER_PORT="1883\.5": expected a decimal integer/)
  const level = loadFails(t, 'CONFIG_INVALID', { file, env: { IOTLESS_LOG_LEVEL: 'loud' } })
  t.match(level.message, /log\.level:/)
})

t.test('an override whose parent is not an object is CONFIG_INVALID naming the parent', async (t) => {
  const file = write(t, 'iotless.yaml', 'broker: 5\n')
  const err = loadFails(t, 'CONFIG_INVALID', { file, env: { IOTLESS_BROKER_PORT: '1884' } })
  t.match(err.message, 'broker: expected an object (needed to apply IOTLESS_BROKER_PORT)')
  // With no parent in the file, it is created.
  const empty = write(t, 'empty.yaml', 'broker:\n')
  t.equal(loadConfig({ file: empty, env: { IOTLESS_BROKER_PORT: '1884' } }).config.broker.port, 1884)
})

t.test('a route naming an undefined function is reported at routes[N].function', async (t) => {
  const text = `
routes:
  - topic: sensors/+/reading
    function: ghost
  - topic: a/b
    function: alert
functions:
  alert:
    module: ./alert.js
`
  const err = loadFails(t, 'CONFIG_INVALID', { file: write(t, 'r.yaml', text) })
  t.match(err.message, 'routes[0].function: no function named "ghost" under functions (defined: alert)')
  t.notMatch(err.message, 'routes[1]')
  const none = loadFails(t, 'CONFIG_INVALID', { file: write(t, 'n.yaml', 'routes:\n  - topic: a\n    function: f\n') })
  t.match(none.message, '(defined: none)')
})

t.test('broker.url must be an MQTT URL', async (t) => {
  const err = loadFails(t, 'CONFIG_INVALID', { file: write(t, 'u.yaml', 'broker:\n  url: http://x\n') })
  t.match(err.message, 'broker.url: expected a URL starting mqtt://')
  for (const url of ['mqtt://h:1', 'mqtts://h', 'ws://h/mqtt', 'wss://h/mqtt', 'tcp://h:1883']) {
    t.equal(loadConfig({ file: write(t, 'ok.yaml', `broker:\n  url: ${url}\n`), env: {} }).config.broker.url, url)
  }
})

t.test("the check hook's problems are reported with their paths, after the schema passes", async (t) => {
  const file = write(t, 'iotless.yaml', MINIMAL)
  let seenBaseDir: string | undefined
  const err = loadFails(t, 'CONFIG_INVALID', {
    file,
    check: (cfg, baseDir) => {
      seenBaseDir = baseDir
      return [
        { path: ['functions', 'alert', 'module'], message: 'module file missing' },
        { path: ['routes', 0, 'topic'], message: `bad topic ${cfg.routes[0]?.topic ?? ''}` },
        { path: [], message: 'top-level problem' }
      ]
    }
  })
  t.equal(seenBaseDir, join(file, '..'))
  t.match(err.message, 'functions.alert.module: module file missing')
  t.match(err.message, 'routes[0].topic: bad topic sensors/{node}/reading')
  t.match(err.message, '(top level): top-level problem')
  t.same(err.details?.problems, [
    'functions.alert.module: module file missing',
    'routes[0].topic: bad topic sensors/{node}/reading',
    '(top level): top-level problem'
  ])

  // The route checks from the MQTT adapter, plugged in as `iotless up` does.
  const bad = write(t, 'bad.yaml', `
routes:
  - topic: sport/tennis#
    function: alert
  - topic: s/{node}
    function: alert
    reply: out/{device}
functions:
  alert:
    module: ./a.js
`)
  const routeErr = loadFails(t, 'CONFIG_INVALID', { file: bad, check: (cfg) => checkRoutes(cfg.routes) })
  t.match(routeErr.message, /routes\[0\]\.topic: wildcards must occupy a whole level/)
  t.match(routeErr.message, /routes\[1\]\.reply: \{device\} is not a named segment/)

  // One pass: the hook runs even when the schema rejects a field, and both are reported.
  let called = false
  const both = loadFails(t, 'CONFIG_INVALID', { file: write(t, 'x.yaml', 'broker:\n  port: x\n'), check: () => { called = true; return [{ path: ['routes'], message: 'from the hook' }] } })
  t.equal(called, true, 'the hook runs on a config the schema rejects')
  t.match(both.message, /broker\.port: [^\n]*\n\s+routes: from the hook/)
})

t.test('the loaded config is deeply frozen', async (t) => {
  const { config } = loadConfig({ file: write(t, 'iotless.yaml', MINIMAL + '    config:\n      thresholdC: 23\n      nested:\n        list: [1, 2]\n'), env: {} })
  t.ok(Object.isFrozen(config))
  t.ok(Object.isFrozen(config.broker))
  t.ok(Object.isFrozen(config.routes))
  t.ok(Object.isFrozen(config.routes[0]))
  t.ok(Object.isFrozen(config.functions))
  t.ok(Object.isFrozen(config.functions.alert))
  const fnConfig = config.functions.alert?.config as { nested: { list: number[] } }
  t.ok(Object.isFrozen(fnConfig.nested))
  t.ok(Object.isFrozen(fnConfig.nested.list))
  t.throws(() => { (config.broker as { port: number }).port = 1 }, TypeError, 'ESM is strict mode: writes throw')
  t.throws(() => { (fnConfig.nested.list).push(3) }, TypeError)
  t.equal(config.broker.port, 1883)
})

t.test('formatPath writes paths as the file reads', async (t) => {
  t.equal(formatPath([]), '(top level)')
  t.equal(formatPath(['broker', 'port']), 'broker.port')
  t.equal(formatPath(['routes', 0, 'function']), 'routes[0].function')
  t.equal(formatPath(['routes', 2]), 'routes[2]')
  t.equal(formatPath([0, 'a']), '[0].a')
})

t.test('formatIssues suggests the closest known key, or none', async (t) => {
  const known = (): string[] => ['keepaliveSeconds', 'port', 'host']
  const lines = formatIssues([
    { code: 'unrecognized_keys', keys: ['keepAliveSecond', 'hots', 'banana'], path: ['broker'], message: '', input: {} }
  ], known)
  t.same(lines, [
    'broker.keepAliveSecond: unknown key; did you mean "keepaliveSeconds"? (allowed: keepaliveSeconds, port, host)',
    'broker.hots: unknown key; did you mean "host"? (allowed: keepaliveSeconds, port, host)',
    'broker.banana: unknown key (allowed: keepaliveSeconds, port, host)'
  ])
})

t.test('envLeaves names every scalar field IOTLESS_ + path in UPPER_SNAKE, and skips lists and maps', async (t) => {
  const leaves = envLeaves(configJsonSchema())
  const byEnv = new Map(leaves.map((l) => [l.env, l]))
  t.same(byEnv.get('IOTLESS_BROKER_PORT'), { env: 'IOTLESS_BROKER_PORT', path: ['broker', 'port'], type: 'integer' })
  t.same(byEnv.get('IOTLESS_ADAPTER_MAX_PAYLOAD_BYTES')?.path, ['adapter', 'maxPayloadBytes'])
  t.same(byEnv.get('IOTLESS_BROKER_PROTOCOL')?.type, 'string', 'an enum is set as a string')
  t.same(byEnv.get('IOTLESS_METRICS_ENABLED')?.type, 'boolean')
  t.ok(leaves.every((l) => l.path[0] !== 'routes' && l.path[0] !== 'functions'))
  t.ok(leaves.every((l) => /^IOTLESS_[A-Z0-9_]+$/.test(l.env)))
  t.equal(byEnv.size, leaves.length, 'no two fields share a variable')
})

t.test('CLI: `iotless up -c <bad file>` exits with status 2 and names the field', async (t) => {
  const file = write(t, 'bad.yaml', 'broker:\n  prot: 1884\nmetrics:\n  port: "x"\n')
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('IOTLESS_')) env[k] = v
  const res = spawnSync(process.execPath, ['dist/cli/iotless.js', 'up', '-c', file], { cwd: repoRoot, env, encoding: 'utf8', timeout: 60_000 })
  t.equal(res.error, undefined)
  t.equal(res.status, 2, `exit status (stderr: ${res.stderr})`)
  t.match(res.stderr, 'CONFIG_INVALID')
  t.match(res.stderr, 'broker.prot: unknown key; did you mean "port"?')
  t.match(res.stderr, /metrics\.port: /)
  t.equal(res.stdout, '')
})

t.test('routes name a target: local needs a function under functions, others a target under targets', async (t) => {
  const yaml = (routes: string, extra = ''): string => `routes:\n${routes}\n${extra}`
  const remote = loadConfig({
    file: write(t, 'r.yaml', yaml('  - { topic: a/b, function: any-service, target: cloud }', 'targets:\n  cloud: { kind: knative, url: "http://{function}.default.svc" }')),
    env: {}
  }).config
  t.equal(remote.routes[0]?.target, 'cloud', 'a remote function need not be under functions')
  t.match(remote.targets.cloud, { kind: 'knative', timeoutMs: 30_000, connections: 64, traceContext: 'w3c' })
  const ce = t.throws(() => loadConfig({ file: write(t, 'tc.yaml', 'targets:\n  cloud: { kind: knative, url: "http://x", traceContext: ce }\n'), env: {} }))
  t.match(String(ce), /targets\.cloud\.traceContext/, 'a bad traceContext is named')
  const err = t.throws(() => loadConfig({ file: write(t, 'u.yaml', yaml('  - { topic: a/b, function: f, target: nowhere }')), env: {} }))
  t.match(String(err), /routes\[0\]\.target: no target named "nowhere" under targets \(defined: local\)/)
  const bad = t.throws(() => loadConfig({ file: write(t, 'k.yaml', 'targets:\n  cloud: { kind: kubeless }\n'), env: {} }))
  t.match(String(bad), /targets\.cloud\.kind/)
  const local = t.throws(() => loadConfig({ file: write(t, 'l.yaml', 'targets:\n  local: { kind: knative, url: "http://x" }\n'), env: {} }))
  t.match(String(local), /`local` is the embedded pool/)
  const both = t.throws(() => loadConfig({ file: write(t, 'p.yaml', 'broker: { passwordEnv: A, passwordFile: b }\n'), env: {} }))
  t.match(String(both), /broker\.passwordFile: set passwordEnv or passwordFile, not both/)
})

t.test('an integer variable takes plain decimal digits only: 0x10, 1e3, 0b1, " 12" and Infinity are refused', async (t) => {
  const file = write(t, 'iotless.yaml', MINIMAL)
  for (const raw of ['0x10', '1e3', '0b1', '0o7', ' 12', '12 ', '+12', 'Infinity', '1_000', '']) {
    const err = loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { IOTLESS_BROKER_PORT: raw } })
    t.match(err.message, `IOTLESS_BROKER_PORT=${JSON.stringify(raw)}: expected a decimal integer`, `${JSON.stringify(raw)} refused, the variable named`)
  }
  t.equal(loadConfig({ file, env: { IOTLESS_BROKER_PORT: '0016' } }).config.broker.port, 16, 'leading zeros are still decimal')
})

t.test('Kubernetes service links are ignored; a real unknown IOTLESS_ variable is still refused', async (t) => {
  const file = write(t, 'iotless.yaml', MINIMAL)
  // What the kubelet injects for a Service `iotless` (port 1883, named mqtt) and a Service `iotless-broker`.
  const links = {
    IOTLESS_SERVICE_HOST: '10.96.0.12',
    IOTLESS_SERVICE_PORT: '1883',
    IOTLESS_SERVICE_PORT_MQTT: '1883',
    IOTLESS_PORT: 'tcp://10.96.0.12:1883',
    IOTLESS_PORT_1883_TCP: 'tcp://10.96.0.12:1883',
    IOTLESS_PORT_1883_TCP_PROTO: 'tcp',
    IOTLESS_PORT_1883_TCP_PORT: '1883',
    IOTLESS_PORT_1883_TCP_ADDR: '10.96.0.12',
    IOTLESS_BROKER_SERVICE_HOST: '10.96.0.13',
    IOTLESS_BROKER_SERVICE_PORT: '1883',
    IOTLESS_BROKER_PORT: 'tcp://10.96.0.13:1883',
    IOTLESS_BROKER_PORT_1883_TCP: 'tcp://10.96.0.13:1883'
  }
  const loaded = loadConfig({ file, env: links })
  t.equal(loaded.config.broker.port, 1883, 'IOTLESS_BROKER_PORT=tcp://... from the iotless-broker Service did not override broker.port')
  t.same(loaded.envApplied, [])
  t.same([...loaded.envIgnored].sort(), Object.keys(links).sort())

  // The same names with values that are not a link's are settings again, and checked as such.
  const real = loadConfig({ file, env: { ...links, IOTLESS_BROKER_PORT: '1884' } })
  t.equal(real.config.broker.port, 1884)
  t.same(real.envApplied, ['IOTLESS_BROKER_PORT'])
  // Without its _SERVICE_HOST, a tcp:// value is no link: a bad port.
  const lone = loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { IOTLESS_BROKER_PORT: 'tcp://10.96.0.13:1883' } })
  t.match(lone.message, 'IOTLESS_BROKER_PORT="tcp://10.96.0.13:1883": expected a decimal integer')
  // A port variable whose number does not match its name is no link either.
  loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { ...links, IOTLESS_PORT_1883_TCP_PORT: '80' } })
  const typo = loadFails(t, 'CONFIG_ENV_INVALID', { file, env: { ...links, IOTLESS_BROKER_PROT: '1884' } })
  t.match(typo.message, 'IOTLESS_BROKER_PROT is not a known setting')
})

t.test('one pass: schema issues and cross-field problems are reported together, each at its path', async (t) => {
  const file = write(t, 'iotless.yaml', `
broker:
  port: 99999
adapter:
  maxPayloadBytes: -1
routes:
  - topic: a/b
    function: nope
  - topic: c/d
    function: alert
    qos: 7
  - topic: e/f
    function: alert
    target: cloud
functions:
  alert:
    module: ./alert.js
    concurrency: 0
  other:
    module: ./other.js
`)
  const err = loadFails(t, 'CONFIG_INVALID', {
    file,
    check: (cfg) => {
      const out: ConfigProblem[] = []
      cfg.routes.forEach((r, i) => { out.push({ path: ['routes', i, 'topic'], message: `checked ${r.topic}`, code: 'TARGET_URL_INVALID' }) })
      return out
    }
  })
  const lines = err.message.split('\n').slice(1).map((l) => l.trim())
  t.ok(lines.includes('broker.port: Too big: expected number to be <=65535') || lines.some((l) => l.startsWith('broker.port:')), 'schema: broker.port')
  t.ok(lines.some((l) => l.startsWith('adapter.maxPayloadBytes:')), 'schema: adapter.maxPayloadBytes')
  t.ok(lines.some((l) => l.startsWith('routes[1].qos:')), 'schema: routes[1].qos')
  t.ok(lines.some((l) => l.startsWith('functions.alert.concurrency:')), 'schema: functions.alert.concurrency')
  t.ok(lines.some((l) => l.startsWith('routes[0].function: no function named "nope"')), 'cross-field: routes[0].function, in the same report')
  t.ok(lines.some((l) => l.startsWith('routes[2].target: no target named "cloud"')), 'cross-field: routes[2].target')
  t.notOk(lines.some((l) => l.startsWith('routes[1].function')), 'a route naming a function whose entry is invalid is not reported twice')
  t.ok(lines.includes('routes[0].topic: checked a/b [TARGET_URL_INVALID]'), 'the command\'s checks run too, on the routes that validated, with their code')
  t.ok(lines.includes('routes[2].topic: checked e/f [TARGET_URL_INVALID]'), 'and keep their index past an invalid route')
  t.notOk(lines.some((l) => l.startsWith('routes[1].topic')), 'an invalid route is not handed to the checks')
  t.same((err.details?.codes as string[]).filter((c) => c === 'TARGET_URL_INVALID').length, 2, 'details carry each problem\'s code')
})

t.test('functions.<name>.effects.logMaxAgeMs: 7 days by default, at least a minute, named when wrong', async (t) => {
  const fx = (extra: string): string => `functions:\n  f:\n    module: ./f.js\n    effects:\n      url: sqlite:fx.db\n${extra}`
  t.equal(loadConfig({ file: write(t, 'd.yaml', fx('')), env: {} }).config.functions.f?.effects?.logMaxAgeMs, 604_800_000)
  t.equal(loadConfig({ file: write(t, 'ok.yaml', fx('      logMaxAgeMs: 3600000\n')), env: {} }).config.functions.f?.effects?.logMaxAgeMs, 3_600_000)
  const err = loadFails(t, 'CONFIG_INVALID', { file: write(t, 'bad.yaml', fx('      logMaxAgeMs: 5000\n')) })
  t.match(err.message, 'functions.f.effects.logMaxAgeMs')
})

t.test('tracing.recentPerSecond must be positive: 0 and a negative rate are CONFIG_INVALID naming the field', async (t) => {
  for (const bad of ['0', '-5']) {
    const err = loadFails(t, 'CONFIG_INVALID', { file: write(t, `r${bad}.yaml`, MINIMAL + `tracing:\n  recentPerSecond: ${bad}\n`) })
    const problems = (err.details?.problems ?? []) as string[]
    t.match(problems.find((p) => p.startsWith('tracing.recentPerSecond:')), /greater than 0|too small|>\s*0/i, `${bad}: the field and why`)
  }
  const ok = loadConfig({ env: {}, file: write(t, 'ok.yaml', MINIMAL) })
  t.equal(ok.config.tracing.recentPerSecond, 10, 'default 10 a second')
})
