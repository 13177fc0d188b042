import type { StoreLocation } from '../../effects/storeUrl.js'
import type { OtelSettings } from '../../core/tracing/otelTracer.js'

/** IPC messages from an instance process to the pool that spawned it. */
export type InstanceMessage =
  | { type: 'ready'; port: number }
  | { type: 'fatal'; code: 'FUNCTION_NOT_FOUND' | 'FUNCTION_INIT_FAILED'; message: string }

/** What the pool passes to an instance as its one argument (JSON). */
export interface InstanceSpec {
  name: string
  modulePath: string
  config: Record<string, unknown>
  /** The effect store, already resolved (an absolute SQLite path), and the config field that named it. */
  effects?: { where: StoreLocation; field: string; logMaxAgeMs?: number | undefined }
  /** OpenTelemetry export of the handler's spans (tracing.enabled); absent: none, the SDK is not loaded. */
  tracing?: OtelSettings
}
