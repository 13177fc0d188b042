/**
 * The files `iotless fn new <dir>` writes: a TypeScript function project that depends on iotless, builds with
 * tsc (strict), tests its handler with the SDK's test helper and node:test, and serves with `iotless fn serve .`.
 * Kept as data so that test/cli/scaffoldFunction.test.ts can read what a user gets.
 */
export interface TemplateOptions {
  /** The npm package name (the folder's name). */
  name: string
  /** The dependency spec for iotless: a range such as ^0.1.0, or file:/path/to/iotless-0.1.0.tgz. */
  iotlessSpec: string
}

/** Versions a new project's dev dependencies get: those this repository builds with. */
const TYPESCRIPT = '~5.9.3'
const TYPES_NODE = '^20.19.0'

export function functionTemplate ({ name, iotlessSpec }: TemplateOptions): Record<string, string> {
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    main: 'dist/src/index.js',
    engines: { node: '>=20.19' },
    scripts: {
      build: 'tsc -p tsconfig.json',
      test: 'npm run build && node --test dist/test/*.test.js',
      start: 'npm run build && iotless fn serve .'
    },
    dependencies: { iotless: iotlessSpec },
    devDependencies: { '@types/node': TYPES_NODE, typescript: TYPESCRIPT }
  }
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2023'],
      types: ['node'],
      strict: true,
      skipLibCheck: true,
      sourceMap: true,
      rootDir: '.',
      outDir: 'dist'
    },
    include: ['src', 'test']
  }
  return {
    'package.json': JSON.stringify(pkg, null, 2) + '\n',
    'tsconfig.json': JSON.stringify(tsconfig, null, 2) + '\n',
    'src/index.ts': `import { defineFunction, FunctionInputError } from 'iotless/sdk'

interface State { thresholdC: number }

/**
 * Replies with an alert when a reading's temperature is at or above config.thresholdC (23 °C by default).
 * It takes JSON such as { "temp": 24.5 }; anything else is refused as bad input (400, FUNCTION_BAD_INPUT)
 * and the function keeps serving. A reading below the threshold gets no reply.
 */
export default defineFunction<State>({
  // Once per instance, before the first event: parse config, load models. The result is ctx.state.
  init ({ config }) {
    const thresholdC = config.thresholdC ?? 23
    if (typeof thresholdC !== 'number') throw new Error(\`config.thresholdC must be a number, got \${JSON.stringify(thresholdC)}\`)
    return { thresholdC }
  },
  // Once per event: a CloudEvent. JSON data arrives parsed, anything else as a Buffer.
  handle (event, { state }) {
    const temp = (event.data as { temp?: unknown } | undefined)?.temp
    if (typeof temp !== 'number') throw new FunctionInputError('send JSON { "temp": <number> }')
    if (temp < state.thresholdC) return undefined
    return { data: { alert: 'temperature', temp, thresholdC: state.thresholdC, subject: event.subject } }
  }
})
`,
    'test/index.test.ts': `import assert from 'node:assert/strict'
import { test } from 'node:test'
import { invoke, InvokeError, testEvent } from 'iotless/sdk/testing'
import fn from '../src/index.js'

// invoke() runs init and the handler in this process, with the event encoded and decoded as a served
// function receives it: no server, no broker.

test('a hot reading gets an alert', async () => {
  const reply = await invoke(fn, testEvent({ data: { temp: 24.5 }, subject: 'sensors/1/reading' }))
  assert.deepEqual(reply?.data, { alert: 'temperature', temp: 24.5, thresholdC: 23, subject: 'sensors/1/reading' })
})

test('a cool reading gets no reply', async () => {
  assert.equal(await invoke(fn, testEvent({ data: { temp: 20 } })), undefined)
})

test('the threshold comes from the config', async () => {
  assert.equal(await invoke(fn, testEvent({ data: { temp: 24.5 } }), { config: { thresholdC: 30 } }), undefined)
})

test('a reading that is not JSON is refused as bad input', async () => {
  await assert.rejects(invoke(fn, testEvent({ data: 'hot!' })),
    (err: unknown) => err instanceof InvokeError && err.code === 'FUNCTION_BAD_INPUT' && err.status === 400)
})
`,
    Dockerfile: `# A Knative Service container: CloudEvents on POST / (port 8080), readiness on /healthz.
# For an OpenWhisk Docker action, add: ENV IOTLESS_FN_MODE=openwhisk
#   npm install            # once, so that package-lock.json exists
#   docker build -t registry.example.com/${name}:0.1.0 .
# The iotless dependency must be one the build can fetch: a registry version, or a tarball copied into the
# context (a file: path outside this folder is not visible to docker build).
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
RUN npm ci --no-audit --no-fund && npm run build && npm prune --omit=dev --no-audit --no-fund
USER node
ENV NODE_ENV=production PORT=8080
EXPOSE 8080
ENTRYPOINT ["node", "node_modules/iotless/dist/cli/fn.js", "serve", "."]
`,
    '.dockerignore': 'node_modules\ndist\n',
    '.gitignore': 'node_modules/\ndist/\n',
    'README.md': `# ${name}

An [iotless](https://www.npmjs.com/package/iotless) function: \`src/index.ts\`, tested in \`test/\`.

\`\`\`sh
npm install
npm test                 # tsc (strict), then node --test: the handler through iotless/sdk/testing, no server
npm start                # builds, then serves it on port 8080 (iotless fn serve .): a Knative Service container
\`\`\`

In a second terminal, send it a CloudEvent in binary mode:

\`\`\`sh
curl -s -X POST http://127.0.0.1:8080/ -H 'ce-specversion: 1.0' -H 'ce-id: 1' -H 'ce-source: /sensors/1' \\
  -H 'ce-type: dev.example.reading' -H 'content-type: application/json' -d '{"temp": 24.5}'
\`\`\`

\`./node_modules/.bin/iotless fn serve . --help\` lists the options (\`--port\`, \`--config '{"thresholdC": 25}'\`,
\`--mode openwhisk\`). On one edge box, name this folder in an \`iotless.yaml\` of \`iotless up\`
(\`functions.${name}.module: ./dist/src/index.js\`). The \`Dockerfile\` builds a container image.
`
  }
}
