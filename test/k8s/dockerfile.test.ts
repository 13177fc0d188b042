import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { repoRoot } from '../helpers/paths.js'
import { effective, parseDockerfile, type Stage } from './dockerfile.js'

/** Not built here: no Docker engine on this machine. These checks are what can be verified without one. */

function stage (stages: Stage[], name: string | undefined): Stage {
  const s = name === undefined ? stages[stages.length - 1] : stages.find((x) => x.name === name)
  if (s === undefined) throw new Error(`no stage ${name ?? '(last)'}`)
  return s
}

t.test('k8s/Dockerfile: non-root 65532, iotless entrypoint, proxy and openwhisk targets', async (t) => {
  const { stages } = parseDockerfile('Dockerfile')
  t.same(stages.map((s) => s.name), ['build', 'runtime', 'proxy', 'openwhisk', undefined])
  for (const name of ['runtime', 'proxy', 'openwhisk', undefined]) {
    const s = stage(stages, name)
    t.equal(effective(stages, s, 'USER'), '65532:65532', `${name ?? 'default'} runs as 65532`)
  }
  t.equal(effective(stages, stage(stages, undefined), 'ENTRYPOINT'), '["node", "dist/cli/iotless.js"]', 'default target: args select the command')
  t.equal(effective(stages, stage(stages, 'proxy'), 'ENTRYPOINT'), '["node", "dist/cli/proxy.js"]', 'proxy target: the lean proxy entry, no args needed')
  t.equal(effective(stages, stage(stages, 'proxy'), 'CMD'), '[]')
  t.equal(effective(stages, stage(stages, 'openwhisk'), 'CMD'), '["fn", "serve", "--mode", "openwhisk"]')
  // The runtime stage copies only build outputs, never runs npm, and writes nothing of its own.
  const runtime = stage(stages, 'runtime')
  t.same(runtime.instructions.filter((i) => i.op === 'RUN'), [], 'no RUN in the final stage')
  t.same(runtime.instructions.filter((i) => i.op === 'COPY').map((i) => i.args.replace(/--chown=\S+\s+/, '')), [
    '--from=build /src/package.json ./package.json', '--from=build /src/node_modules ./node_modules', '--from=build /src/dist ./dist'
  ])
  const build = stage(stages, 'build')
  const ciIdx = build.instructions.findIndex((i) => i.op === 'RUN' && i.args.includes('npm ci'))
  t.match(build.instructions[ciIdx]?.args, /npm ci .*&& npm prune --omit=dev/)
})

t.test('both images build the proxy\'s native accept helper, or fail to build', async (t) => {
  // It is compiled by npm ci's build, so the compiler comes first and the build fails if the helper is
  // missing rather than shipping a proxy that accepts one connection per turn.
  for (const file of ['Dockerfile', 'Dockerfile.gpu']) {
    const build = stage(parseDockerfile(file).stages, 'build')
    const ciIdx = build.instructions.findIndex((i) => i.op === 'RUN' && i.args.includes('npm ci'))
    const ccIdx = build.instructions.findIndex((i) => i.op === 'RUN' && /apt-get install .*\bgcc\b.*\blibc6-dev\b/.test(i.args))
    t.ok(ccIdx >= 0 && ccIdx < ciIdx, `${file}: gcc and libc6-dev are installed before npm ci`)
    t.match(build.instructions[ciIdx]?.args, /test -f dist\/proxy\/native\/acceptPending\.node/, `${file}: the helper is checked`)
  }
})

t.test('the entry files the images name are what `npm run build` produces', async (t) => {
  for (const f of ['dist/cli/iotless.js', 'dist/cli/proxy.js']) t.ok(existsSync(join(repoRoot, f)), f)
})

t.test('the build stages copy every source folder tsconfig compiles (except bench/ and test/)', async (t) => {
  const tsconfig = JSON.parse(readFileSync(join(repoRoot, 'tsconfig.json'), 'utf8')) as { include: string[] }
  const needed = tsconfig.include.filter((d) => d !== 'bench' && d !== 'test')
  for (const file of ['Dockerfile', 'Dockerfile.gpu']) {
    const copies = stage(parseDockerfile(file).stages, 'build').instructions.filter((i) => i.op === 'COPY').map((i) => i.args)
    for (const dir of needed) t.ok(copies.includes(`${dir}/ ${dir}/`), `${file} copies ${dir}/`)
    t.ok(copies.some((c) => c.split(/\s+/).includes('.npmrc')), `${file} copies .npmrc`)
  }
})

t.test('k8s/Dockerfile.gpu: CUDA 12 base, Node 20, CUDA provider fetched at npm ci, non-root', async (t) => {
  const { args, stages } = parseDockerfile('Dockerfile.gpu')
  const cudaArg = args.find((a) => a.op === 'ARG' && a.args.startsWith('CUDA_IMAGE='))?.args ?? ''
  t.match(cudaArg, /^CUDA_IMAGE=nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu22\.04$/)
  t.match(args.find((a) => a.args.startsWith('NODE_IMAGE='))?.args, /^NODE_IMAGE=node:20-/)
  const build = stage(stages, 'build')
  const envIdx = build.instructions.findIndex((i) => i.op === 'ENV' && i.args === 'ONNXRUNTIME_NODE_INSTALL=cuda12')
  const ciIdx = build.instructions.findIndex((i) => i.op === 'RUN' && i.args.includes('npm ci'))
  t.ok(envIdx >= 0 && envIdx < ciIdx, 'ONNXRUNTIME_NODE_INSTALL=cuda12 is set before npm ci')
  const runtime = stage(stages, 'runtime')
  t.equal(runtime.from, '${CUDA_IMAGE}')
  t.equal(effective(stages, runtime, 'USER'), '65532:65532')
  t.equal(effective(stages, runtime, 'ENTRYPOINT'), '["node", "dist/cli/iotless.js"]')
  t.ok(runtime.instructions.some((i) => i.op === 'COPY' && i.args === '--from=node /usr/local/bin/node /usr/local/bin/node'))
})

t.test('onnxruntime-node reads ONNXRUNTIME_NODE_INSTALL before the .npmrc setting (so the GPU build overrides skip)', async (t) => {
  t.match(readFileSync(join(repoRoot, '.npmrc'), 'utf8'), /onnxruntime-node-install=skip/)
  const require = createRequire(import.meta.url)
  const utils = require(join(repoRoot, 'node_modules/onnxruntime-node/script/install-utils.js')) as { parseInstallFlag: () => unknown }
  const saved = { a: process.env.ONNXRUNTIME_NODE_INSTALL, b: process.env.npm_config_onnxruntime_node_install }
  t.teardown(() => {
    if (saved.a === undefined) delete process.env.ONNXRUNTIME_NODE_INSTALL; else process.env.ONNXRUNTIME_NODE_INSTALL = saved.a
    if (saved.b === undefined) delete process.env.npm_config_onnxruntime_node_install; else process.env.npm_config_onnxruntime_node_install = saved.b
  })
  process.env.npm_config_onnxruntime_node_install = 'skip' // what npm exports from .npmrc
  delete process.env.ONNXRUNTIME_NODE_INSTALL
  t.equal(utils.parseInstallFlag(), false, '.npmrc alone: skip')
  process.env.ONNXRUNTIME_NODE_INSTALL = 'cuda12'
  // 1.30's parseInstallFlag returns undefined (not 'cuda12') for this value: "not skipped, use the platform's
  // requirements", which for linux/x64 is exactly cuda12 (install.js then fetches the missing files).
  t.not(utils.parseInstallFlag(), false, 'the env variable wins over .npmrc: not skipped')
  const metadata = require(join(repoRoot, 'node_modules/onnxruntime-node/script/install-metadata.js')) as { requirements: Record<string, string[]>, manifests: Record<string, Record<string, unknown>> }
  t.same(metadata.requirements['linux/x64'], ['cuda12'], 'on linux/x64 the requirement is the CUDA 12 provider')
  t.ok(Object.keys(metadata.manifests['linux/x64:cuda12'] ?? {}).includes('./libonnxruntime_providers_cuda.so'), 'the file the GPU build checks for is the one cuda12 installs')
})

t.test('.dockerignore keeps node_modules, dist and .git out of the build context', async (t) => {
  const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
  for (const p of ['**/node_modules', 'dist', '.git']) t.ok(lines.includes(p), p)
})
