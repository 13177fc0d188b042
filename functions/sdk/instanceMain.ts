/**
 * Entry point of one local-pool instance (a child process). The pool forks it with an InstanceSpec as JSON
 * in argv[2]; it loads the module, runs init, serves on loopback and reports its port over IPC.
 * Forked with SPARE_ARG instead, it is a spare: booted, waiting for a LoadMessage with the spec.
 * It exits when the pool goes away (IPC disconnect), so no instance outlives its pool.
 */
import { pathToFileURL } from 'node:url'
import { isDefinedFunction } from './defineFunction.js'
import { SPARE_ARG, type InstanceMessage, type InstanceSpec, type LoadMessage } from './instanceMessages.js'
import { startLocalServer } from './localServer.js'
import type { HandlerTracer } from '../../core/tracing/otelTracer.js'

function send (msg: InstanceMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined || !process.connected) { resolve(); return }
    process.send(msg, undefined, {}, () => resolve())
  })
}

const at = (): number => performance.timeOrigin + performance.now()

async function main (spec: InstanceSpec, mainAt: number): Promise<void> {
  const specAt = at()
  let mod: { default?: unknown }
  try {
    mod = await import(pathToFileURL(spec.modulePath).href) as { default?: unknown }
  } catch (err) {
    await send({ type: 'fatal', code: 'FUNCTION_NOT_FOUND', message: `cannot load ${spec.modulePath}: ${(err as Error).message}` })
    process.exit(1)
  }
  const importedAt = at()
  if (!isDefinedFunction(mod.default)) {
    await send({ type: 'fatal', code: 'FUNCTION_NOT_FOUND', message: `${spec.modulePath} must export default defineFunction({ handle })` })
    process.exit(1)
  }
  let effects
  if (spec.effects !== undefined) {
    try {
      const { openEffectStore } = await import('../../effects/openStores.js')
      effects = await openEffectStore(spec.effects.where, spec.effects.field, { logMaxAgeMs: spec.effects.logMaxAgeMs })
    } catch (err) {
      await send({ type: 'fatal', code: 'FUNCTION_INIT_FAILED', message: `the effect store of ${spec.name} failed: ${(err as Error).message}` })
      process.exit(1)
    }
  }
  let tracer: HandlerTracer | undefined
  if (spec.tracing !== undefined) {
    const { startHandlerTracing } = await import('../../core/tracing/otelTracer.js')
    const { pino } = await import('pino')
    tracer = await startHandlerTracing(spec.tracing, pino({ base: { function: spec.name } }, pino.destination(2)))
  }
  let started
  try {
    started = await startLocalServer(mod.default, { name: spec.name, config: spec.config, effects }, 0, tracer)
  } catch (err) {
    await send({ type: 'fatal', code: 'FUNCTION_INIT_FAILED', message: `init of ${spec.name} failed: ${err instanceof Error ? err.message : String(err)}` })
    process.exit(1)
  }
  const { server, port } = started
  process.on('SIGTERM', () => { server.close(() => { void (tracer?.shutdown() ?? Promise.resolve()).finally(() => process.exit(0)) }) })
  await send({ type: 'ready', port, timings: { originAt: performance.timeOrigin, mainAt, specAt, importedAt, listeningAt: at() } })
}

const mainAt = at()
process.on('disconnect', () => process.exit(0))
if (process.argv[2] === SPARE_ARG) {
  process.once('message', (msg: LoadMessage) => { void main(msg.spec, mainAt) })
} else {
  void main(JSON.parse(process.argv[2] ?? '{}') as InstanceSpec, mainAt)
}
