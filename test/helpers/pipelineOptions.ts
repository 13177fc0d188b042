import type { MessagePipelineOptions } from '../../adapters/ingress/messagePipeline.js'
import { memoryLog } from './silentLog.js'

/**
 * The options of a MessagePipeline for a test without a broker: no payload beyond 1 KiB, 3 attempts 1 s apart
 * (random 0: no jitter), dead letters to `dlq`, signals that never abort. A test gives what it looks at (routes,
 * targets, publisher, clock) and overrides the rest.
 */
export function pipelineOptions (o: Pick<MessagePipelineOptions, 'routes' | 'targets' | 'publisher' | 'clock'> & Partial<MessagePipelineOptions>): MessagePipelineOptions {
  return {
    source: 'mqtt://test/adapter',
    maxPayloadBytes: 1024,
    maxAttempts: 3,
    retryBaseMs: 1000,
    deadLetterTopic: 'dlq',
    stop: new AbortController().signal,
    stopping: new AbortController().signal,
    random: () => 0,
    log: memoryLog('fatal').log,
    ...o
  }
}
