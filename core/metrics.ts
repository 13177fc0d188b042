import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client'

/**
 * The metrics iotless exports, registered on a registry that the caller passes in (never prom-client's
 * global one), so two stacks in one process, as in tests, do not collide. Names follow Prometheus
 * conventions: base units, `_total` for counters, `_seconds` for durations.
 */
export function createMetrics (registry: Registry, opts: { defaultMetrics?: boolean } = {}) {
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'iotless_' })
  const registers = [registry]
  return {
    registry,
    messagesReceived: new Counter({
      name: 'iotless_messages_received_total',
      help: 'MQTT messages received, by the route that matched.',
      labelNames: ['route'] as const,
      registers
    }),
    messagesUnrouted: new Counter({
      name: 'iotless_messages_unrouted_total',
      help: 'MQTT messages that matched no route.',
      registers
    }),
    messagesRejected: new Counter({
      name: 'iotless_messages_rejected_total',
      help: 'MQTT messages refused before invocation, by reason (payload_too_large, ...).',
      labelNames: ['reason'] as const,
      registers
    }),
    deadLetters: new Counter({
      name: 'iotless_dead_letters_total',
      help: 'Messages sent to the dead-letter topic (or dropped when none is set), by route and error code.',
      labelNames: ['route', 'code'] as const,
      registers
    }),
    retries: new Counter({
      name: 'iotless_retries_total',
      help: 'Invocations sent again after a retryable failure, by route.',
      labelNames: ['route'] as const,
      registers
    }),
    batchSize: new Histogram({
      name: 'iotless_batch_size',
      help: 'Messages per micro-batch invocation, by route.',
      labelNames: ['route'] as const,
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
      registers
    }),
    dedupSkipped: new Counter({
      name: 'iotless_dedup_skipped_total',
      help: 'Redelivered messages found in the dedup window (adapter.dedup): acknowledged without dispatch, by route.',
      labelNames: ['route'] as const,
      registers
    }),
    dedupStoreErrors: new Counter({
      name: 'iotless_dedup_store_errors_total',
      help: 'Failed calls to the dedup store; while it fails, nothing is acknowledged.',
      registers
    }),
    spoolAppended: new Counter({
      name: 'iotless_spool_appended_total',
      help: 'Messages written to the disk spool (adapter.spool) and acknowledged to the broker.',
      registers
    }),
    spoolDelivered: new Counter({
      name: 'iotless_spool_delivered_total',
      help: 'Spooled messages whose handling finished (answered or dead-lettered) and that left the spool.',
      registers
    }),
    spoolMessages: new Gauge({
      name: 'iotless_spool_messages',
      help: 'Messages in the disk spool, not yet delivered.',
      registers
    }),
    spoolBytes: new Gauge({
      name: 'iotless_spool_bytes',
      help: 'Bytes of the disk spool\'s segment files (bounded by adapter.spool.maxBytes).',
      registers
    }),
    spoolOldestAge: new Gauge({
      name: 'iotless_spool_oldest_age_seconds',
      help: 'Age of the oldest undelivered message in the disk spool (0 when empty).',
      registers
    }),
    spoolBackpressure: new Gauge({
      name: 'iotless_spool_backpressure',
      help: '1 while the disk spool takes no messages (full, or a write failing): they stay with the broker.',
      registers
    }),
    spoolWriteErrors: new Counter({
      name: 'iotless_spool_write_errors_total',
      help: 'Failed spool writes (ENOSPC, EIO); the messages were not acknowledged.',
      registers
    }),
    spoolCommitSeconds: new Histogram({
      name: 'iotless_spool_commit_seconds',
      help: 'One group commit of the disk spool: write, and fdatasync when adapter.spool.fsync is on.',
      buckets: [0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5],
      registers
    }),
    messagesExpired: new Counter({
      name: 'iotless_messages_expired_total',
      help: 'Messages whose MQTT 5 Message Expiry Interval ran out in the adapter before invocation (dead-lettered MESSAGE_EXPIRED), by route.',
      labelNames: ['route'] as const,
      registers
    }),
    repliesPublished: new Counter({
      name: 'iotless_replies_published_total',
      help: 'Replies published back over MQTT, by route.',
      labelNames: ['route'] as const,
      registers
    }),
    invocations: new Counter({
      name: 'iotless_invocations_total',
      help: 'Function invocations, by function and outcome (ok, error, crashed, timeout, rejected).',
      labelNames: ['function', 'outcome'] as const,
      registers
    }),
    invocationDuration: new Histogram({
      name: 'iotless_invocation_duration_seconds',
      help: 'Time from dispatch to the function\'s answer, cold starts included.',
      labelNames: ['function'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    coldStarts: new Counter({
      name: 'iotless_cold_starts_total',
      help: 'Instances started (spawn + init), by function.',
      labelNames: ['function'] as const,
      registers
    }),
    coldStartDuration: new Histogram({
      name: 'iotless_cold_start_duration_seconds',
      help: 'Time from spawn until the instance finished init and was ready.',
      labelNames: ['function'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers
    }),
    warmInstances: new Gauge({
      name: 'iotless_warm_instances',
      help: 'Instances ready to serve (busy or idle), by function.',
      labelNames: ['function'] as const,
      registers
    }),
    capacityWanted: new Gauge({
      name: 'iotless_capacity_wanted_instances',
      help: 'Instances the function\'s scaler wants (before the box\'s share), by function.',
      labelNames: ['function'] as const,
      registers
    }),
    capacityInstances: new Gauge({
      name: 'iotless_capacity_instances',
      help: 'Instances standing (ready and starting), by function.',
      labelNames: ['function'] as const,
      registers
    }),
    capacityAllocation: new Gauge({
      name: 'iotless_capacity_allocation',
      help: 'Instances at full CPU the box grants the function under overload (fair share); +Inf while the box is not overloaded.',
      labelNames: ['function'] as const,
      registers
    }),
    capacityCpuShare: new Gauge({
      name: 'iotless_capacity_cpu_share',
      help: 'CPU quota of the function\'s instances as a share of a full one: below 1 while deflated.',
      labelNames: ['function'] as const,
      registers
    }),
    capacitySlo: new Counter({
      name: 'iotless_capacity_slo_requests_total',
      help: 'Invocations of functions with an slo, by whether they waited within slo.waitMs (outcome within|missed), and, with a guarantee, whether they were within it (guarantee admitted|overflow; none without one).',
      labelNames: ['function', 'outcome', 'guarantee'] as const,
      registers
    }),
    capacitySpareStarts: new Counter({
      name: 'iotless_capacity_spare_starts_total',
      help: 'Instances started from a spare process (booted ahead of need, capacity.spareInstances) instead of a new fork.',
      labelNames: ['function'] as const,
      registers
    }),
    capacityPreinvocations: new Counter({
      name: 'iotless_capacity_preinvocations_total',
      help: 'Pre-invocations of periodic functions (an instance warmed just before the next expected arrival), by whether that arrival found it ready (outcome hit|late|missed: no arrival in the window).',
      labelNames: ['function', 'outcome'] as const,
      registers
    }),
    capacityGuarantee: new Counter({
      name: 'iotless_capacity_guarantee_total',
      help: 'Invocations of functions with a guarantee, by whether they were within it (admitted) or above it (overflow, best effort).',
      labelNames: ['function', 'outcome'] as const,
      registers
    }),
    capacityWarmPrice: new Gauge({
      name: 'iotless_capacity_warm_price_seconds',
      help: 'The box\'s feedback warm-floor price (capacity.attainmentTarget > 0): idle instance-seconds one avoided cold start is worth.',
      registers
    }),
    capacityWarmPriceBalance: new Gauge({
      name: 'iotless_capacity_warm_price_balance',
      help: 'The feedback price\'s error budget after its last batch: allowed minus charged misses, carried (below 0: in debt, the price goes up).',
      registers
    }),
    capacityWarmPriceMisses: new Counter({
      name: 'iotless_capacity_warm_price_misses_total',
      help: 'Requests out of their slo.waitMs as the feedback price counts them: charged (against its budget) or startup (arrived before the function had ever had an instance ready: counted apart).',
      labelNames: ['accounting'] as const,
      registers
    }),
    capacityReallocation: new Histogram({
      name: 'iotless_capacity_reallocation_seconds',
      help: 'Time from an overload of the box starting to the fair-share allocation being applied (quotas written, instances stopped).',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    }),
    executionProvider: new Gauge({
      name: 'iotless_function_execution_provider',
      help: 'Set to 1 for the ONNX execution provider (cuda, cpu) a function\'s sessions use, by function and provider.',
      labelNames: ['function', 'provider'] as const,
      registers
    }),
    inferenceDuration: new Histogram({
      name: 'iotless_inference_duration_seconds',
      help: 'Time of one model run (session.run, a batch counts once), by function and execution provider.',
      labelNames: ['function', 'provider'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers
    }),
    instanceCrashes: new Counter({
      name: 'iotless_instance_crashes_total',
      help: 'Instances that exited without being asked to, by function.',
      labelNames: ['function'] as const,
      registers
    }),
    instanceMemoryKills: new Counter({
      name: 'iotless_instance_memory_kills_total',
      help: 'Instances killed for going over functions.<name>.memoryMb, by function.',
      labelNames: ['function'] as const,
      registers
    }),
    traceSpansExported: new Counter({
      name: 'iotless_trace_spans_exported_total',
      help: 'Spans sent to the OTLP endpoint (tracing.enabled).',
      registers
    }),
    traceSpansDropped: new Counter({
      name: 'iotless_trace_spans_dropped_total',
      help: 'Spans dropped because the export queue (tracing.maxQueueSize) was full.',
      registers
    }),
    traceSpansFailed: new Counter({
      name: 'iotless_trace_spans_failed_total',
      help: 'Spans whose export failed (endpoint unreachable, refused, timed out).',
      registers
    }),
    placementDecisions: new Counter({
      name: 'iotless_placement_decisions_total',
      help: 'Messages of a multi-tier route sent to a tier, by route, tier and reason (best, explore, ordered, failover).',
      labelNames: ['route', 'tier', 'reason'] as const,
      registers
    }),
    placementLatency: new Histogram({
      name: 'iotless_placement_latency_seconds',
      help: 'Latency of a multi-tier route\'s runs that succeeded, by route, tier and kind: predicted (at decision) or measured.',
      labelNames: ['route', 'tier', 'kind'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    }),
    placementRegret: new Histogram({
      name: 'iotless_placement_regret_seconds',
      help: 'Measured latency minus the best of it and the other tiers\' predictions, by route (0: the chosen tier was the best known).',
      labelNames: ['route'] as const,
      buckets: [0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers
    })
  }
}

export type Metrics = ReturnType<typeof createMetrics>
