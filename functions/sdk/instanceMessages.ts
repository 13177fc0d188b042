import type { StoreLocation } from '../../effects/storeUrl.js'
import type { OtelSettings } from '../../core/tracing/otelTracer.js'

/**
 * Where an instance's start went, as epoch ms on the machine's clock (performance.timeOrigin + performance.now(),
 * so the pool can set them beside its own): the process's time origin, main() entered (node booted and the SDK
 * loaded), the function's module imported, the server listening. A spare (SPARE_ARG) has booted long before.
 */
export interface StartTimings { originAt: number; mainAt: number; specAt: number; importedAt: number; listeningAt: number }

/** IPC messages from an instance process to the pool that spawned it. */
export type InstanceMessage =
  | { type: 'ready'; port: number; timings?: StartTimings }
  | { type: 'fatal'; code: 'FUNCTION_NOT_FOUND' | 'FUNCTION_INIT_FAILED'; message: string }

/**
 * argv[2] of a spare: a generic instance process, forked ahead of need, that has booted node and the SDK and waits
 * for the pool's LoadMessage to become an instance of one function (adapters/runtime/spareInstances.ts).
 */
export const SPARE_ARG = '--iotless-spare'

/** IPC message from the pool to a spare: load this function and serve it. */
export interface LoadMessage { type: 'load'; spec: InstanceSpec }

/** What the pool passes to an instance as its one argument (JSON), or to a spare in its LoadMessage. */
export interface InstanceSpec {
  name: string
  modulePath: string
  config: Record<string, unknown>
  /** The effect store, already resolved (an absolute SQLite path), and the config field that named it. */
  effects?: { where: StoreLocation; field: string; logMaxAgeMs?: number | undefined }
  /** OpenTelemetry export of the handler's spans (tracing.enabled); absent: none, the SDK is not loaded. */
  tracing?: OtelSettings
}
