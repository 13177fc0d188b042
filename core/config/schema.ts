import { z } from 'zod'
import { isLoopbackHost } from '../isLoopbackHost.js'

/** A function's idle time before its instance is reaped, by default: 10 minutes, OpenWhisk's idle-container default. */
export const DEFAULT_KEEP_ALIVE_MS = 600_000

/** The SLO sizer's fixed warm-floor price by default, idle seconds per avoided cold start (used with capacity.attainmentTarget 0). */
export const CAPACITY_DEFAULT_IDLE_SECONDS = 60

/** Defaults state their units, as aedes does (`drainTimeout: 60000, // 60 secs`). */
export const functionSchema = z.strictObject({
  /** A built-in example name (`temperature-alert`), or a path to an ES module or a function's folder, relative to the config file. */
  module: z.string().min(1),
  /** Requests one instance serves at once. */
  concurrency: z.int().min(1).max(1000).default(1),
  /** Instances this function may scale up to. */
  maxScale: z.int().min(1).max(256).default(4),
  /** Idle time before an instance is reaped: 600000 ms = 10 minutes, OpenWhisk's idle-container default. */
  keepAliveMs: z.int().min(0).default(DEFAULT_KEEP_ALIVE_MS),
  /** Time allowed for spawn + init. */
  initTimeoutMs: z.int().min(1).default(30_000),
  /** Time allowed for one invocation. */
  timeoutMs: z.int().min(1).default(60_000),
  /**
   * Memory bound of one instance process: 1024 MB. Enforced as V8's --max-old-space-size and, where this host
   * allows, a cgroup v1 memory limit (else an RSS watchdog); over it the instance is killed and replaced, and its
   * invocation fails with FUNCTION_MEMORY_LIMIT. 0: no bound.
   */
  memoryMb: z.int().min(0).max(1_048_576).default(1024),
  /**
   * Which instance a request goes to (docs/placement.md): `busiest` (the fullest with a free slot, so others can be
   * reaped), `jsq` (the least loaded), `random`, or `threshold` (self-learning threshold). Default busiest.
   */
  dispatch: z.enum(['busiest', 'jsq', 'random', 'threshold']).optional(),
  /** Free-form settings handed to the function's init as ctx.config. */
  config: z.record(z.string(), z.unknown()).default({}),
  /** Extra environment variables for the instance process. */
  env: z.record(z.string(), z.string()).default({}),
  /**
   * The effect log and state behind the SDK's once() (docs/effects.md): `sqlite:PATH` (relative to this file),
   * `redis://HOST:PORT`, `postgres://USER@HOST/DB`. Opened at start-up, so a bad one stops it.
   */
  effects: z.strictObject({
    url: z.string().regex(/^(sqlite|redis|rediss|postgres|postgresql|memory):/, 'a store URL: sqlite:PATH, redis://HOST:PORT or postgres://USER@HOST/DB'),
    /**
     * Log entries older than this are pruned (a once() of theirs runs again). 604800000 ms = 7 days: keep it
     * longer than a message can come back (the broker's session expiry, plus retries). At least 1 minute.
     */
    logMaxAgeMs: z.int().min(60_000).default(604_800_000)
  }).optional(),
  /**
   * Latency objective (docs/capacity.md): at least `percentile` of requests wait at most `waitMs` for a slot.
   * With it the function is sized by Erlang C (LaSS) unless `scaler` says otherwise.
   */
  slo: z.strictObject({
    waitMs: z.number().positive(),
    percentile: z.number().gt(0).lt(1)
  }).optional(),
  /** How instances are sized: reactive (today's pool), slo (Erlang C; the default with `slo`), kpa (Knative-like), fixed (maxScale always). */
  scaler: z.enum(['reactive', 'slo', 'kpa', 'fixed']).optional(),
  /** Share of the box under overload relative to the others' (weighted max-min): 1 to 256, LaSS's default 8. */
  weight: z.int().min(1).max(256).default(8),
  /** Guaranteed invocation rate (Real-time Serverless): checked at start-up against maxScale and the box; needs serviceMs. */
  guarantee: z.strictObject({
    ratePerSec: z.number().positive(),
    /** Invocations above the rate that may arrive at once. */
    burst: z.int().min(0).default(0)
  }).optional(),
  /** Expected mean service time, ms: checks a guarantee at start-up; the SLO sizer measures its own. */
  serviceMs: z.number().positive().optional(),
  /**
   * Pre-invocation (Real-time Serverless): once the function's arrivals are periodic, hold an instance (and its
   * guarantee's reservation) only from leadMs before each expected burst to graceMs after it (docs/capacity.md).
   */
  preInvoke: z.strictObject({
    /** Warm this many ms before the earliest expected arrival: more than a cold start. */
    leadMs: z.int().min(0).default(2000),
    /** Keep the instance this many ms after the burst before letting it go. */
    graceMs: z.int().min(0).default(1000)
  }).optional()
})

export const routeSchema = z.strictObject({
  /** An MQTT topic filter; `+`, `#` and named segments such as `{device}` (one level each). */
  topic: z.string().min(1),
  /** The name of a function under `functions`. */
  function: z.string().min(1),
  /** Reply-topic template; `{name}` takes the named segment's value. No reply is published when absent. */
  reply: z.string().min(1).optional(),
  /** QoS of the subscription, and of the reply. */
  qos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  /** CloudEvent `type` given to messages on this route. */
  type: z.string().min(1).default('io.iotless.mqtt.message'),
  /** Where the function runs: `local` (the embedded pool) or the name of an entry under `targets`. */
  target: z.string().min(1).default('local'),
  /**
   * Several places the function may run, in order of preference (`local` or names under `targets`); instead of
   * `target`, never with it. Each message goes to one of them as `placement` says (docs/placement.md).
   */
  targets: z.array(z.string().min(1)).min(1).max(8).optional(),
  /** With `targets`: `fastest` (where the answer is predicted to come back first) or `ordered` (the first healthy one; the rest are failover). Default fastest. */
  placement: z.enum(['fastest', 'ordered']).optional(),
  /** With `targets` and `placement: fastest`: share of messages sent to a tier that was not predicted best, so one that became faster is found again. Default 0.02. */
  explore: z.number().min(0).max(0.5).optional(),
  /** Invocations of this route in flight at once; when full, the adapter stops reading from the broker. */
  maxInFlight: z.int().min(1).max(65535).default(64),
  /** Attempts before a message goes to the dead-letter topic. Default: adapter.maxAttempts. */
  maxAttempts: z.int().min(1).max(100).optional(),
  /** Dead-letter topic template (`{name}` takes named segments). Default: adapter.deadLetterTopic. Empty: none. */
  deadLetter: z.string().optional(),
  /**
   * Only topics under this prefix reach the route's function, whatever the filter says: a device outside it
   * cannot reach the function. The filter itself must lie inside the prefix.
   */
  topicPrefix: z.string().min(1).optional(),
  /** `json`: a payload that is not JSON goes to the dead-letter topic with PAYLOAD_NOT_JSON, unrun. */
  accept: z.enum(['any', 'json']).default('any'),
  /**
   * MQTT topic filters an MQTT 5 Response Topic must match for the reply to go there. Never an input of a
   * route or the dead-letter topic. Empty: a message that names a response topic is refused (dead letter).
   */
  responseTopics: z.array(z.string().min(1)).max(100).default([]),
  /** Micro-batching: up to maxMessages messages, or what arrived within maxWaitMs, become one invocation. */
  batch: z.strictObject({
    maxMessages: z.int().min(1).max(10_000).default(100),
    /** Longest a message waits for its batch to fill. */
    maxWaitMs: z.int().min(0).max(60_000).default(10)
  }).optional()
})

const targetTimeout = z.int().min(1).default(30_000)

/** Where routes send their events. `local` needs no entry: it is the embedded pool. */
export const targetSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('knative'),
    /** The Knative Service URL; `{function}` takes the route's function name, e.g. http://{function}.default.svc.cluster.local */
    url: z.string().min(1),
    /** Time allowed for one invocation, connect to last byte. */
    timeoutMs: targetTimeout,
    /** Keep-alive connections per origin. */
    connections: z.int().min(1).max(10_000).default(64),
    /** PEM file of the CA that signed an https URL's certificate (relative to the config file). */
    caFile: z.string().min(1).optional(),
    /**
     * Where an event's trace context goes: `w3c`, the `traceparent`/`tracestate` headers only (one hop: the
     * SDK, the proxy and Knative read them); `both`, also as the CloudEvents extension (`ce-traceparent`), for a
     * receiver that reads only that.
     */
    traceContext: z.enum(['w3c', 'both']).default('w3c')
  }),
  z.strictObject({
    /** Knative Eventing's source contract: the URL comes from K_SINK, extensions from K_CE_OVERRIDES, CAs from K_CA_CERTS. */
    kind: z.literal('sink'),
    timeoutMs: targetTimeout,
    connections: z.int().min(1).max(10_000).default(64)
  }),
  z.strictObject({
    kind: z.literal('openwhisk'),
    /** The OpenWhisk API host, e.g. https://openwhisk.example.com (https:// is assumed without a scheme). */
    apiHost: z.string().min(1),
    /** The namespace; `_` is the key's default namespace. */
    namespace: z.string().min(1).default('_'),
    /** Environment variable holding the API key (uuid:key). Never put the key in this file. */
    keyEnv: z.string().min(1).default('__OW_API_KEY'),
    /** Or a file holding it (e.g. a mounted Secret); read when set, instead of keyEnv. */
    keyFile: z.string().min(1).optional(),
    /** Wait for the result (up to OpenWhisk's 60 s); false: fire and take the activation id. */
    blocking: z.boolean().default(true),
    /** Skip TLS verification of the API host (a dev cluster with a self-signed certificate). */
    ignoreCerts: z.boolean().default(false),
    timeoutMs: z.int().min(1).default(70_000)
  })
])

/** One rule of broker.acl (adapters/broker/brokerAcl.ts). */
export const brokerAclRuleSchema = z.strictObject({
  /** Usernames of the usersFile this rule is for; `*`: all of them. */
  users: z.array(z.string().regex(/^(\*|[^\s\p{Cc}:/+#]{1,128})$/u, 'a username of the usersFile, or *')).min(1).default(['*']),
  /** Topic filters the users may publish to, e.g. devices/{username}/#. */
  publish: z.array(z.string().min(1).superRefine(checkAclFilter)).default([]),
  /** Topic filters the users may subscribe to (a subscription must lie inside one). */
  subscribe: z.array(z.string().min(1).superRefine(checkAclFilter)).default([])
})

function checkAclFilter (filter: string, ctx: z.core.$RefinementCtx<string>): void {
  const levels = filter.split('/')
  for (const l of levels) {
    if (/[{}]/.test(l) && l !== '{username}' && l !== '{clientId}') {
      ctx.addIssue({ code: 'custom', message: `"${l}": {username} and {clientId} are the only placeholders, each a whole level` })
      return
    }
  }
  const plain = levels.map((l) => (l === '{username}' || l === '{clientId}') ? 'x' : l)
  const hashAt = plain.indexOf('#')
  if (plain.some((l) => l !== '#' && l !== '+' && /[+#]/.test(l)) || (hashAt >= 0 && hashAt !== plain.length - 1)) {
    ctx.addIssue({ code: 'custom', message: 'a topic filter: + and # are whole levels, # only the last [MQTT-4.7.1]' })
  }
}

/** The embedded broker stays on loopback unless it has users, or is told to let anyone in (adapters/broker/embeddedBroker.ts checks again). */
function checkBrokerExposure (b: { url: unknown; host: unknown; usersFile?: unknown; usersEnv?: unknown; allowAnonymous?: unknown; tls?: { host?: unknown } | undefined }, ctx: z.core.$RefinementCtx<unknown>): void {
  // Runs even when other broker fields are invalid, so every value is checked for its type first.
  if (typeof b !== 'object' || b === null) return
  if ((typeof b.url === 'string' && b.url !== '') || b.usersFile !== undefined || b.usersEnv !== undefined || b.allowAnonymous === true || typeof b.host !== 'string') return
  const tlsHost = typeof b.tls === 'object' && b.tls !== null ? (typeof b.tls.host === 'string' ? b.tls.host : b.host) : undefined
  const exposed = [b.host, ...(tlsHost !== undefined ? [tlsHost] : [])].filter((h) => !isLoopbackHost(h))
  if (exposed.length === 0) return
  ctx.addIssue({
    code: 'custom',
    path: ['allowAnonymous'],
    message: `the embedded broker would listen on ${[...new Set(exposed)].join(', ')} (broker.host${b.tls !== undefined ? ', broker.tls.host' : ''}), beyond loopback, with no users: ` +
      'set broker.usersFile (create it with `iotless broker passwd FILE USER`) or broker.usersEnv, or broker.allowAnonymous: true to let anyone in on purpose'
  })
}

export const configSchema = z.strictObject({
  broker: z.strictObject({
    /** An external broker, e.g. mqtt://127.0.0.1:1883. Empty: start the embedded aedes broker. */
    url: z.string().default(''),
    /** Embedded broker: address to bind. 127.0.0.1 keeps it local; beyond loopback it needs usersFile (docs/broker.md). */
    host: z.string().min(1).default('127.0.0.1'),
    /** Embedded broker: TCP port. */
    port: z.int().min(0).max(65535).default(1883),
    /** Fixed client id, so the broker keeps the adapter's session (clean: false) across restarts. */
    clientId: z.string().min(1).max(65535).default('iotless-adapter'),
    /** MQTT protocol: `auto` tries 5, then 3.1.1 when the broker refuses 5 (aedes 1.x speaks 3.1.1 only). */
    protocol: z.enum(['auto', '5', '3.1.1']).default('auto'),
    /** MQTT keep-alive. */
    keepaliveSeconds: z.int().min(0).max(65535).default(30),
    /** Time to wait for CONNACK. */
    connectTimeoutMs: z.int().min(1).default(10_000),
    /** MQTT 5 session expiry: how long the broker keeps the adapter's session and queue while it is away. 86400 s = 1 day. */
    sessionExpirySeconds: z.int().min(0).max(4_294_967_295).default(86_400),
    /** Username for the broker. */
    username: z.string().min(1).optional(),
    /** Environment variable holding the password. Never put the password in this file. */
    passwordEnv: z.string().min(1).optional(),
    /** Or a file holding it (e.g. a mounted Secret), relative to the config file. */
    passwordFile: z.string().min(1).optional(),
    /** mqtts:// - PEM file of the CA that signed the broker's certificate. */
    caFile: z.string().min(1).optional(),
    /** mqtts:// - client certificate (PEM) and its key, for brokers that authenticate clients by certificate. */
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** mqtts:// - refuse a broker whose certificate does not verify. Turn off only for a test broker. */
    rejectUnauthorized: z.boolean().default(true),
    /**
     * Embedded broker: its users, one `username:scrypt-hash` per line (`iotless broker passwd FILE USER`),
     * relative to the config file. The file holds hashes, never passwords. Unset: no users.
     */
    usersFile: z.string().min(1).optional(),
    /** Embedded broker: or the name of an environment variable holding the same lines (a Kubernetes Secret as env); read when set, instead of usersFile. */
    usersEnv: z.string().min(1).optional(),
    /**
     * Embedded broker: let clients in without a username. Unset: yes when there is no usersFile and every
     * listener is on loopback, else no. Beyond loopback without users, only `true` lets the broker start.
     */
    allowAnonymous: z.boolean().optional(),
    /**
     * Embedded broker: what users of the usersFile may publish and subscribe to (nothing else is allowed).
     * `{username}` and `{clientId}` stand for the client's own, as whole levels. Only the adapter publishes to
     * route reply and dead-letter topics, whatever these rules say.
     */
    acl: z.array(brokerAclRuleSchema).default([{ users: ['*'], publish: ['devices/{username}/#'], subscribe: ['devices/{username}/#'] }]),
    /** Embedded broker: a user's client id must be its username, or its username, `:` and anything (no session takeover between devices). */
    bindClientIdToUser: z.boolean().default(true),
    /**
     * Embedded broker: the largest MQTT packet a client may send (fixed header included); a bigger one closes
     * that client's connection before it is buffered. Default: adapter.maxPayloadBytes + 65600 (a topic of up to
     * 65535 bytes and the headers).
     */
    maxPacketBytes: z.int().min(128).max(268_435_460).optional(),
    /**
     * Embedded broker: what password checks may cost (each is an scrypt derivation, tens of ms of CPU). At most
     * concurrentChecks at once and queuedChecks waiting, past which a login is refused at once (CONNACK 3,
     * server unavailable); an address with failuresBeforeLockout failed logins in a row is refused at once
     * for 1 s, doubling with each further failure up to lockoutMaxMs; a good login resets it. The adapter's
     * own login is exempt.
     */
    loginLimits: z.strictObject({
      concurrentChecks: z.int().min(1).max(64).default(1),
      queuedChecks: z.int().min(0).max(100_000).default(256),
      failuresBeforeLockout: z.int().min(1).max(1_000_000).default(10),
      lockoutMaxMs: z.int().min(1000).max(86_400_000).default(60_000)
    }).prefault({}),
    /** Embedded broker: an MQTT over TLS listener (mqtts), beside the plain one on host:port. */
    tls: z.strictObject({
      /** Address to bind. Default: broker.host. */
      host: z.string().min(1).optional(),
      /** 8883 is the IANA port of MQTT over TLS. */
      port: z.int().min(0).max(65535).default(8883),
      /** PEM certificate (chain) and private key of the broker, relative to the config file. */
      certFile: z.string().min(1),
      keyFile: z.string().min(1),
      /** PEM CA of client certificates: when set, a client must present a certificate it signed. */
      clientCaFile: z.string().min(1).optional()
    }).optional()
  // when: also alongside other problems in broker.*, so that one pass reports them all.
  }).superRefine(checkBrokerExposure, { when: () => true }).prefault({}),
  adapter: z.strictObject({
    /** Messages larger than this are refused, counted and logged. 262144 bytes = 256 KiB. */
    maxPayloadBytes: z.int().min(1).max(268_435_455).default(262_144),
    /** On SIGINT/SIGTERM: time allowed for in-flight messages to finish. */
    shutdownGraceMs: z.int().min(0).default(30_000),
    /**
     * Messages being handled at once, all routes together (QoS 0 too). At this many the adapter reads no
     * further message until one finishes; memory stays below about maxInFlight x maxPayloadBytes.
     */
    maxInFlight: z.int().min(1).max(65535).default(64),
    /**
     * Messages received and not yet acknowledged: being handled, or finished and waiting for an earlier one's
     * turn (PUBACKs go in arrival order, MQTT-4.6.0-2). Sent as the MQTT 5 Receive Maximum, and enforced by
     * the adapter for MQTT 3.1.1 and QoS 0. At least maxInFlight. A slow message stalls other routes only once
     * this many have arrived behind it.
     */
    maxUnacked: z.int().min(1).max(65535).default(1024),
    /** Attempts for an invocation that failed in a way that may pass next time (queue full, instance crashed). */
    maxAttempts: z.int().min(1).max(100).default(5),
    /** First retry delay; it doubles per attempt, with jitter, up to 5 s. */
    retryBaseMs: z.int().min(1).default(100),
    /** Where a message goes after its last failed attempt, or at once when it cannot succeed. Empty: nowhere (logged, counted). */
    deadLetterTopic: z.string().default('iotless/dead-letter'),
    /**
     * The dedup window (docs/effects.md): ids of messages handled are recorded durably before their PUBACK,
     * and a redelivered message found there is acknowledged without dispatch. Off unless set.
     */
    dedup: z.strictObject({
      /** `sqlite:PATH` (relative to the config file; the edge box) or `redis://HOST:PORT` (adapters that scale out). */
      url: z.string().min(1),
      /** Entries older than this are forgotten. 86400000 ms = 1 day: longer than the broker keeps the adapter's session. */
      maxAgeMs: z.int().min(1000).default(86_400_000),
      /** At most this many entries; the oldest go first. */
      maxEntries: z.int().min(1).default(1_000_000)
    }).optional(),
    /**
     * The disk spool (docs/spool.md): a message is acknowledged to the broker once it is in the spool, then
     * delivered from there with the usual retries. Off unless set.
     */
    spool: z.strictObject({
      /** The spool's folder, relative to the config file; created if missing. One adapter per folder. */
      dir: z.string().min(1),
      /** Segment files at most this big, all together; when full, no more is taken from the broker. 268435456 bytes = 256 MiB. */
      maxBytes: z.int().min(1_048_576).default(268_435_456),
      /** fdatasync each group commit before acknowledging its messages (survives a power cut); false: a kill -9 only. */
      fsync: z.boolean().default(true),
      /** Spooled payloads kept in memory for delivery, at most; beyond, read back from disk. 67108864 bytes = 64 MiB. */
      memoryBytes: z.int().min(0).default(67_108_864)
    }).optional()
  }).superRefine((a, ctx) => {
    // The biggest message the spool takes (the payload limit, a topic of up to 64 KiB, properties) must fit a few times.
    const least = 4 * (a.maxPayloadBytes + 131_072)
    if (a.spool !== undefined && a.spool.maxBytes < least) {
      ctx.addIssue({ code: 'custom', path: ['spool', 'maxBytes'], message: `must be at least 4 x (adapter.maxPayloadBytes + 128 KiB) = ${least} bytes` })
    }
  }).prefault({}),
  metrics: z.strictObject({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    /** Prometheus scrape port for GET /metrics. */
    port: z.int().min(0).max(65535).default(9464),
    /** The live dashboard (GET /) and its JSON (GET /api/status, /api/events) beside /metrics. */
    dashboard: z.boolean().default(true),
    /** How often the dashboard's picture is rebuilt and pushed to open pages. */
    dashboardIntervalMs: z.int().min(100).max(60_000).default(1000)
  }).prefault({}),
  /** Traces of messages (docs/dashboard.md). */
  tracing: z.strictObject({
    /** Finished message traces kept in memory for the dashboard's waterfall and `iotless status`; 0: none kept. */
    recent: z.int().min(0).max(10_000).default(50),
    /**
     * Messages a second the ring records at most in the long run (bursts up to `recent` whole); the rest cost a
     * clock read. 10 keeps the dashboard fresh (it redraws each second) and costs nothing measurable at saturation.
     */
    recentPerSecond: z.number().positive().max(1_000_000).default(10),
    /** Export spans with OpenTelemetry over OTLP/HTTP. Off: the SDK is not even loaded. */
    enabled: z.boolean().default(false),
    /** OTLP/HTTP traces URL; '' : OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, or http://localhost:4318/v1/traces. */
    endpoint: z.string().default(''),
    /** Share of new traces recorded (a parent's sampling decision is followed). */
    sampleRatio: z.number().min(0).max(1).default(1),
    serviceName: z.string().min(1).default('iotless'),
    /** Spans waiting for export at most; past it new spans are dropped and counted. */
    maxQueueSize: z.int().min(1).max(1_000_000).default(2048),
    exportTimeoutMs: z.int().min(1).default(10_000),
    /** Where the adapter serialises and posts its spans: a worker thread (off the message-handling thread) or that thread itself (one core). */
    exportThread: z.enum(['worker', 'main']).default('worker'),
    /**
     * How the adapter records its spans: `compact` (flat records, OTLP JSON encoded and posted by a worker
     * thread: core/tracing/compactTracer.ts) or `sdk` (OpenTelemetry SDK spans, exported as `exportThread` says).
     * Function processes and the proxy use the SDK either way.
     */
    engine: z.enum(['compact', 'sdk']).default('compact'),
    /** The compact engine's OTLP/HTTP encoding (the SDK engine and the functions' processes send JSON). */
    protocol: z.enum(['http/protobuf', 'http/json']).default('http/protobuf')
  }).prefault({}),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info')
  }).prefault({}),
  /** Traffic prediction and pre-warming of the local pool (docs/prefetch.md). */
  prefetch: z.strictObject({
    enabled: z.boolean().default(true),
    /** A policy of prefetch/policies/policies.ts. */
    policy: z.enum(['iotless', 'hybrid', 'fixed', 'knative', 'spes', 'faascache']).default('iotless'),
    /** The policy's parameters (iotless sim --help lists them); checked at start-up. */
    params: z.record(z.string(), z.number()).default({}),
    /** Real ms that stand for one policy minute: 60000; a trace replay sped up N times uses 60000 / N. */
    minuteMs: z.int().min(1).default(60_000),
    /** Pre-warm this many ms before the minute the policy wants an instance in. */
    leadMs: z.int().min(0).default(0)
  }).prefault({}),
  /** The box the local pool shares (docs/capacity.md): its size, fair share under overload, deflation, the SLO sizer's timing. */
  capacity: z.strictObject({
    /** Instances (at full CPU) the box holds; `machine`: from its CPUs and memory less the reserves; absent: no box limit. */
    instances: z.union([z.int().min(1), z.literal('machine')]).optional(),
    /** CPUs one instance may use at full quota. */
    cpusPerInstance: z.number().positive().default(1),
    /** Memory one instance is counted at, for `instances: machine`. */
    memoryMbPerInstance: z.int().min(1).default(256),
    /** CPUs and memory kept back for iotless itself and the OS, for `instances: machine`. */
    reserveCpus: z.number().min(0).default(0.5),
    reserveMemoryMb: z.int().min(0).default(512),
    /** Deflation: an instance's CPU quota may be lowered to this share before instances are stopped (LaSS: half). */
    minCpuShare: z.number().min(0.1).max(1).default(0.5),
    /** Deflate through the cgroup v1 cpu controller; off (or no writable controller): reclaim stops instances. */
    deflation: z.boolean().default(true),
    cgroupMount: z.string().min(1).default('/sys/fs/cgroup/cpu'),
    /** The SLO sizer decides every 5000 ms (LaSS's period). */
    periodMs: z.int().min(100).default(5_000),
    /** Arrival rate over 120000 ms (2 minutes), or over 10000 ms when that is at least twice as high (LaSS). */
    longWindowMs: z.int().min(1000).default(120_000),
    burstWindowMs: z.int().min(1000).default(10_000),
    /** A higher count is held, and an idle instance above it stays, this long: 15000 ms. */
    holdMs: z.int().min(0).default(15_000),
    /** The SLO sizer's warm floor: idle instance-seconds one avoided cold start is worth (0: off, LaSS). */
    idleSecondsPerColdStart: z.number().min(0).default(CAPACITY_DEFAULT_IDLE_SECONDS),
    /** The burst window counts when its rate is at least this many times the long window's (LaSS: 2); 0: off. */
    burstFactor: z.number().min(0).default(0),
    /**
     * The SLO sizer's ready headroom: the time a replacement instance takes to be ready, in ms; a function that serves
     * for long against it keeps its requests plus a few spare slots instead of Erlang C's fixed count (0: off, LaSS).
     */
    replenishMs: z.int().min(0).default(250),
    /**
     * The warm floor's price by feedback: the share of requests that should wait within their objective; the box moves
     * one price for all its functions toward it (warmPrice.ts) instead of idleSecondsPerColdStart. Default 0.99; 0: off
     * (the fixed price).
     */
    attainmentTarget: z.number().min(0).lt(1).default(0.99),
    /**
     * Generic instance processes kept booted, so a new instance loads its function instead of starting node
     * (re-provisioning in ms, not a cold process start); `auto`: 1 with a box (capacity.instances), else 0.
     */
    spareInstances: z.union([z.int().min(0).max(16), z.literal('auto')]).default('auto'),
    /**
     * The box's start gate (startGate.ts): at most this many instance starts under way at once, the rest wait their
     * turn FIFO, so a flood of starts does not slow the first ones; `cpus`: the machine's CPU count; 0: no gate.
     */
    maxConcurrentStarts: z.union([z.int().min(0).max(1024), z.literal('cpus')]).default('cpus')
  }).prefault({}),
  routes: z.array(routeSchema).default([]),
  /** Remote places functions run, by name; routes pick one with `target:`. */
  targets: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'target names are lower-case letters, digits and dashes').refine((n) => n !== 'local', '`local` is the embedded pool and cannot be redefined'), targetSchema).default({}),
  functions: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'function names are lower-case letters, digits and dashes'), functionSchema).default({})
})

export type Config = z.output<typeof configSchema>
export type RouteConfig = z.output<typeof routeSchema>
export type FunctionConfig = z.output<typeof functionSchema>
export type TargetConfig = z.output<typeof targetSchema>
