/**
 * The one table of stable error codes. Users match on `err.code`; the text may change, the code may not.
 * docs/errors.md lists the same codes, and test/core/errors.test.ts keeps the two in sync
 * (the habit of fastify's lib/errors.js and test/internals/errors.test.js).
 */
export const ERROR_CODES = {
  CONFIG_NOT_FOUND: { exitCode: 2, summary: 'The config file named with -c, or iotless.yaml, does not exist.' },
  CONFIG_PARSE: { exitCode: 2, summary: 'The config file is not valid YAML or JSON.' },
  CONFIG_INVALID: { exitCode: 2, summary: 'A config field is missing, misspelt, or has the wrong type or range; the message names its path.' },
  CONFIG_ENV_INVALID: { exitCode: 2, summary: 'An IOTLESS_* environment variable is unknown or its value has the wrong type.' },
  CONFIG_IGNORED: { exitCode: 1, summary: 'Logged as a warning; nothing exits: a config field was set that another field\'s value makes unused (capacity.idleSecondsPerColdStart while capacity.attainmentTarget > 0).' },
  CLI_USAGE: { exitCode: 2, summary: 'Unknown command or option, or a missing argument.' },
  PORT_IN_USE: { exitCode: 1, summary: 'A port iotless must listen on is taken by another process; the message says which setting moves it.' },
  LISTEN_FAILED: { exitCode: 1, summary: 'A server could not listen for another reason (permission, bad address).' },
  BROKER_CONNECT_FAILED: { exitCode: 1, summary: 'The MQTT broker at broker.url refused or could not be reached.' },
  PAYLOAD_TOO_LARGE: { exitCode: 1, summary: 'An MQTT message was larger than adapter.maxPayloadBytes; it goes to the dead-letter topic unrun.' },
  PAYLOAD_NOT_JSON: { exitCode: 1, summary: 'A route with accept: json got a payload that does not parse as JSON; it goes to the dead-letter topic unrun.' },
  CLOUDEVENT_INVALID: { exitCode: 1, summary: 'A message sent as a CloudEvent (MQTT 5 user properties or structured JSON) lacks a required attribute or is malformed; it goes to the dead-letter topic.' },
  TOPIC_NOT_ALLOWED: { exitCode: 1, summary: "A message's topic is outside its route's topicPrefix; it goes to the dead-letter topic unrun." },
  NO_ROUTE: { exitCode: 1, summary: 'An MQTT message matched no route; it is counted and acknowledged.' },
  FUNCTION_NOT_FOUND: { exitCode: 2, summary: 'A function module could not be found or does not export a definition made by defineFunction.' },
  FUNCTION_INIT_FAILED: { exitCode: 1, summary: "A function's init threw, or its instance exited before it was ready." },
  FUNCTION_INIT_TIMEOUT: { exitCode: 1, summary: 'A function instance was not ready within functions.<name>.initTimeoutMs.' },
  FUNCTION_HANDLER_ERROR: { exitCode: 1, summary: "A function's handler threw or rejected; the message and the instance keep going." },
  FUNCTION_CRASHED: { exitCode: 1, summary: 'The instance running an invocation exited: alone on it (a poison message), at the first crash; beside other requests, after one retry elsewhere. Not retried further; dead-lettered.' },
  FUNCTION_TIMEOUT: { exitCode: 1, summary: 'An invocation took longer than functions.<name>.timeoutMs.' },
  FUNCTION_BAD_REPLY: { exitCode: 1, summary: 'A handler returned something that is not a reply ({ data, contentType? }) or undefined.' },
  FUNCTION_BAD_INPUT: { exitCode: 1, summary: 'A function refused an event it cannot use (corrupt image, audio of the wrong length, no data); the instance keeps serving.' },
  FUNCTION_GPU_UNAVAILABLE: { exitCode: 1, summary: 'A function configured with gpu: on could not load the CUDA execution provider; init fails.' },
  BREAKER_QUEUE_FULL: { exitCode: 1, summary: 'All slots and the bounded queue are taken (Knative: "pending request queue full"); the caller should back off.' },
  POOL_CLOSED: { exitCode: 1, summary: 'An invocation arrived after the pool began to shut down.' },
  SHUTDOWN_TIMEOUT: { exitCode: 1, summary: 'In-flight work did not finish within the shutdown grace period.' },
  TRACE_NOT_FOUND: { exitCode: 2, summary: 'The trace directory or a file it needs (invocations.csv, R1.txt, ...) does not exist; the message names the path.' },
  TRACE_INVALID: { exitCode: 2, summary: 'A trace file has a bad header, a non-numeric value or non-contiguous minute columns; the message names the file and line.' },
  SIM_UNKNOWN_POLICY: { exitCode: 2, summary: 'iotless sim --policy names no known policy; the message lists them.' },
  SIM_INVALID_PARAM: { exitCode: 2, summary: 'A --param k=v is unknown for the policy, not a number, or out of range; the message lists the valid ones.' },
  PREFETCH_SOURCE_FAILED: { exitCode: 1, summary: 'Prefetch could not read arrivals (the adapter /metrics endpoint did not answer 200); the message names the URL.' },
  PREFETCH_ACTUATOR_FAILED: { exitCode: 1, summary: 'A prefetch actuator call to Kubernetes/Knative or OpenWhisk failed (not found, forbidden, unreachable, version unknown); the message names the object.' },
  PROXY_ENV_MISSING: { exitCode: 2, summary: 'iotless proxy: an environment variable the Knative revision reconciler must inject is unset; the message names it.' },
  PROXY_ENV_INVALID: { exitCode: 2, summary: 'iotless proxy: an environment variable has a value of the wrong type or range (a port, a number, the readiness probe JSON); the message names it.' },
  PROXY_TLS_CERT_INVALID: { exitCode: 2, summary: 'iotless proxy: the certificate or key Knative mounted for QUEUE_SERVING_TLS_PORT cannot be read, does not parse, or the key is not the certificate\'s; the message names the file.' },
  TARGET_HTTP_STATUS: { exitCode: 1, summary: 'A remote target (knative, sink, openwhisk) answered with a status that is not a success; httpStatus says which, retryable follows Knative Eventing.' },
  TARGET_UNREACHABLE: { exitCode: 1, summary: 'A remote target could not be reached or dropped the connection (refused, reset, DNS) before it answered; retryable.' },
  TARGET_TIMEOUT: { exitCode: 1, summary: 'A remote target did not connect, answer or finish its answer within the configured timeout; retryable.' },
  TARGET_TLS: { exitCode: 1, summary: "A remote target's TLS certificate was not trusted (unknown CA, wrong host name, expired); retryable, as Knative retries transport errors." },
  TARGET_ABORTED: { exitCode: 1, summary: 'A request to a remote target was cancelled by iotless (shutdown); the message is not acknowledged, so it is delivered again.' },
  TARGET_REQUEST_INVALID: { exitCode: 1, summary: 'An event could not be sent as an HTTP request (e.g. a datacontenttype that is not a legal header value); not retryable.' },
  TARGET_URL_INVALID: { exitCode: 2, summary: 'A target URL (or the URL made by putting a function name into {function}) is not an absolute http or https URL.' },
  SINK_ENV_MISSING: { exitCode: 2, summary: 'The sink target needs K_SINK (set by a SinkBinding or ContainerSource) and it is unset or empty.' },
  SINK_ENV_INVALID: { exitCode: 2, summary: 'K_SINK, K_CE_OVERRIDES or K_SINK_TIMEOUT has a bad value; the message names the variable.' },
  OPENWHISK_THROTTLED: { exitCode: 1, summary: 'OpenWhisk answered 429: the namespace is over its invocations-per-minute or concurrency limit; retried with backoff.' },
  OPENWHISK_FUNCTION_ERROR: { exitCode: 1, summary: 'OpenWhisk answered 502: the action returned an error or its container failed; not retried.' },
  OPENWHISK_AUTH: { exitCode: 2, summary: 'OpenWhisk answered 401 or 403: the API key is wrong or may not invoke the action; not retried.' },
  SECRET_MISSING: { exitCode: 2, summary: 'A secret (API key, password) was configured from an environment variable that is unset, or from neither a variable nor a file.' },
  SECRET_UNREADABLE: { exitCode: 2, summary: 'A secret file does not exist or cannot be read; the message names the path, never the content.' },
  SECRET_EMPTY: { exitCode: 2, summary: 'A secret variable or file is empty (or only whitespace); the message names it.' },
  OPENWHISK_DEPLOY_FAILED: { exitCode: 1, summary: 'iotless openwhisk deploy: the OpenWhisk controller refused or could not be reached for an action; the message gives the action and the HTTP status.' },
  STORE_DRIVER_MISSING: { exitCode: 2, summary: 'A configured effect or dedup store needs an npm package (better-sqlite3, ioredis, pg) that is not installed; the message names the setting and the package.' },
  STORE_UNAVAILABLE: { exitCode: 1, summary: 'An effect or dedup store could not be opened or reached (bad path, Redis or PostgreSQL down), or failed at run time; nothing is acknowledged or logged as done.' },
  SPOOL_UNAVAILABLE: { exitCode: 1, summary: 'The disk spool (adapter.spool.dir) cannot be opened at start-up (a folder that cannot be created or written, or one another adapter holds), or a spooled message cannot be read back; the message names the field.' },
  SPOOL_FULL: { exitCode: 1, summary: 'The disk spool reached adapter.spool.maxBytes: the adapter takes no more messages (they stay with the broker) until delivered ones free room. Logged once, and again when there is room.' },
  SPOOL_WRITE_FAILED: { exitCode: 1, summary: 'A write to the disk spool failed (ENOSPC: a full disk, EIO): the messages are not acknowledged and stay with the broker; intake waits and the write is tried again every second. Logged once, and again when it passes.' },
  EFFECTS_NOT_CONFIGURED: { exitCode: 1, summary: 'A handler called ctx.once but no effect store is configured for the function; the invocation fails.' },
  MESSAGE_EXPIRED: { exitCode: 1, summary: 'An MQTT 5 message\'s Message Expiry Interval ran out while it waited in the adapter (a full route, retries): it is not invoked, and is dead-lettered with this code.' },
  EFFECT_CONFLICT: { exitCode: 1, summary: 'A state transaction or once() kept conflicting with concurrent writers of the same keys and gave up; the invocation fails and is retried.' },
  BROKER_AUTH_REQUIRED: { exitCode: 2, summary: 'The embedded broker would listen beyond loopback with no users (broker.usersFile); set one, or broker.allowAnonymous: true on purpose.' },
  BROKER_USERS_INVALID: { exitCode: 2, summary: 'The embedded broker\'s users file (broker.usersFile) has a bad line, or a user the adapter already is; the message names the file and lines, never a hash.' },
  FUNCTION_DEPENDENCY_MISSING: { exitCode: 2, summary: 'A function needs an optional dependency of iotless that is not installed (onnxruntime-node, sharp, a model package); the message says what to install.' },
  FN_NEW_DIR_NOT_EMPTY: { exitCode: 2, summary: 'iotless fn new: the folder to scaffold into exists and is not empty; nothing was written.' },
  FUNCTION_MODULE_INVALID: { exitCode: 2, summary: 'A function module fails to load at start-up or in `iotless fn serve` (syntax error, missing import, a throw at import time) or has no defineFunction(...) default export; the message names functions.<name>.module (or the served file) and the file.' },
  FUNCTION_MEMORY_LIMIT: { exitCode: 1, summary: 'A pool instance went over functions.<name>.memoryMb and was killed; the invocation it was running fails (not retried) and a fresh instance takes over.' },
  OUTPUT_WRITE_FAILED: { exitCode: 2, summary: 'A file iotless was told to write (--write-config, --svg) cannot be written; the message names the path and why.' },
  INTERNAL_ERROR: { exitCode: 1, summary: 'An error without a code of its own (a bug, or a system failure not yet mapped); the message says what and where; IOTLESS_DEBUG=1 prints the stack.' },
  RESPONSE_TOPIC_NOT_ALLOWED: { exitCode: 1, summary: "An MQTT 5 message named a Response Topic its route does not allow (routes[].responseTopics), or one that is an input of a route or the dead-letter topic; it goes to the dead-letter topic unrun." },
  TRACING_SDK_MISSING: { exitCode: 2, summary: 'tracing.enabled is on but the OpenTelemetry packages (optional peer dependencies) are not installed; the message gives the npm install line.' },
  TRACING_QUEUE_FULL: { exitCode: 1, summary: 'tracing: tracing.maxQueueSize spans were waiting for export (a slow or unreachable OTLP endpoint); new spans are dropped and counted, messages are not held up. Logged once.' },
  TRACING_EXPORT_FAILED: { exitCode: 1, summary: 'tracing: an OTLP/HTTP export failed (endpoint unreachable, refused, timed out, not a success); the spans are counted as failed. Logged once.' },
  STATUS_UNREACHABLE: { exitCode: 1, summary: 'iotless status could not read a running stack\'s /api/status (nothing listening, refused, timed out, or not an iotless dashboard); the message names the URL.' },
} as const satisfies Record<string, { exitCode: number; summary: string }>

export type ErrorCode = keyof typeof ERROR_CODES

export class IotlessError extends Error {
  readonly code: ErrorCode
  readonly exitCode: number
  readonly details: Record<string, unknown> | undefined

  constructor (code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'IotlessError'
    this.code = code
    this.exitCode = ERROR_CODES[code].exitCode
    this.details = options.details
  }
}

export function isIotlessError (err: unknown, code?: ErrorCode): err is IotlessError {
  return err instanceof IotlessError && (code === undefined || err.code === code)
}
