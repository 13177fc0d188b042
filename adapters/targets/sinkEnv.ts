import { IotlessError } from '../../core/errors.js'
import { httpUrl } from './knativeTarget.js'

/** What Knative's SinkBinding / ContainerSource injects (eventing: sinkbinding_lifecycle.go, pkg/adapter/v2/config.go). */
export interface SinkEnv {
  /** K_SINK: the resolved URL of the sink. */
  url: string
  /** K_CE_OVERRIDES `extensions`: set on every event sent (empty object when unset or empty). */
  ceOverrides: Record<string, string>
  /** K_CA_CERTS: PEM text of the sink's CA certificates, when the sink has them. */
  ca?: string
  /** K_SINK_TIMEOUT, in seconds, as milliseconds; unset (or 0) means no overall deadline. */
  timeoutMs?: number
}

/** CloudEvents attribute names that are not extensions; K_CE_OVERRIDES may only add or replace extensions. */
const CORE_ATTRIBUTES = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data', 'data_base64'])

/**
 * Reads the Knative Eventing source contract from an environment. Pure: pass `process.env` at the CLI edge.
 * Throws IotlessError SINK_ENV_MISSING / SINK_ENV_INVALID naming the variable, never echoing K_CA_CERTS.
 */
export function parseSinkEnv (env: Readonly<Record<string, string | undefined>>): SinkEnv {
  const sink = env.K_SINK?.trim()
  if (sink === undefined || sink === '') {
    throw new IotlessError('SINK_ENV_MISSING', 'K_SINK is not set: the sink target needs the URL a Knative SinkBinding or ContainerSource injects')
  }
  let url: URL
  try {
    url = httpUrl(sink, 'K_SINK')
  } catch (err) {
    throw new IotlessError('SINK_ENV_INVALID', (err as Error).message)
  }
  const out: SinkEnv = { url: url.href, ceOverrides: parseCeOverrides(env.K_CE_OVERRIDES) }
  const ca = env.K_CA_CERTS
  if (ca !== undefined && ca.trim() !== '') {
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new IotlessError('SINK_ENV_INVALID', 'K_CA_CERTS holds no PEM certificate (no "-----BEGIN CERTIFICATE-----" line)')
    out.ca = ca
  }
  const timeout = env.K_SINK_TIMEOUT?.trim()
  if (timeout !== undefined && timeout !== '') {
    if (!/^\d+$/.test(timeout)) throw new IotlessError('SINK_ENV_INVALID', `K_SINK_TIMEOUT must be a whole number of seconds, got ${JSON.stringify(timeout)}`)
    const seconds = Number(timeout)
    if (seconds > 0) out.timeoutMs = seconds * 1000
  }
  return out
}

/** `{"extensions":{"k":"v"}}`, as Knative's duckv1.CloudEventOverrides; other top-level keys are ignored, as Go's json does. */
export function parseCeOverrides (text: string | undefined): Record<string, string> {
  if (text === undefined || text.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    throw new IotlessError('SINK_ENV_INVALID', `K_CE_OVERRIDES is not valid JSON (${(err as Error).message}); expected {"extensions":{"name":"value"}}`)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new IotlessError('SINK_ENV_INVALID', 'K_CE_OVERRIDES must be a JSON object like {"extensions":{"name":"value"}}')
  }
  const ext = (parsed as { extensions?: unknown }).extensions
  if (ext === undefined || ext === null) return {}
  if (typeof ext !== 'object' || Array.isArray(ext)) throw new IotlessError('SINK_ENV_INVALID', 'K_CE_OVERRIDES "extensions" must be an object of name: "value"')
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(ext)) {
    // CloudEvents spec, "Attribute Naming Convention": lower-case ASCII letters and digits only.
    if (!/^[a-z0-9]+$/.test(name)) throw new IotlessError('SINK_ENV_INVALID', `K_CE_OVERRIDES extension name ${JSON.stringify(name)} must be lower-case letters and digits only`)
    if (CORE_ATTRIBUTES.has(name)) throw new IotlessError('SINK_ENV_INVALID', `K_CE_OVERRIDES may only set extensions, and ${name} is a core CloudEvents attribute`)
    if (typeof value !== 'string') throw new IotlessError('SINK_ENV_INVALID', `K_CE_OVERRIDES extension ${name} must be a string value`)
    out[name] = value
  }
  return out
}
