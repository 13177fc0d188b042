import { IotlessError } from '../errors.js'

/** A JSON Schema node, as z.toJSONSchema writes it (only the parts read here). */
export interface SchemaNode {
  type?: string | string[]
  properties?: Record<string, SchemaNode>
  items?: SchemaNode
  additionalProperties?: SchemaNode | boolean
  enum?: unknown[]
  anyOf?: SchemaNode[]
  const?: unknown
}

/**
 * `integer-or-word`: a union of an integer and fixed words (capacity.spareInstances: 0..16 or `auto`,
 * capacity.instances: a count or `machine`): digits are taken as the integer, anything else as the word.
 */
export interface EnvLeaf { env: string; path: string[]; type: 'integer' | 'number' | 'boolean' | 'string' | 'integer-or-word' }

/** Whether a union node is an integer or fixed words (each branch an integer, or a string const or enum). */
function isIntegerOrWord (node: SchemaNode): boolean {
  const branches = node.anyOf ?? []
  return branches.length > 1 && branches.some((b) => b.type === 'integer') &&
    branches.every((b) => b.type === 'integer' || (b.type === 'string' && (b.const !== undefined || b.enum !== undefined)))
}

function toEnvSegment (key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
}

/**
 * Every scalar field reachable through fixed object keys gets one variable: IOTLESS_ + the path in
 * UPPER_SNAKE, e.g. broker.port -> IOTLESS_BROKER_PORT, adapter.maxPayloadBytes -> IOTLESS_ADAPTER_MAX_PAYLOAD_BYTES.
 * Lists (routes) and maps (functions) are set in the file only.
 */
export function envLeaves (schema: SchemaNode, prefix: string[] = []): EnvLeaf[] {
  const out: EnvLeaf[] = []
  for (const [key, node] of Object.entries(schema.properties ?? {})) {
    const path = [...prefix, key]
    const type = Array.isArray(node.type) ? node.type[0] : node.type
    if (type === 'object' && node.properties !== undefined) {
      out.push(...envLeaves(node, path))
    } else if (type === 'integer' || type === 'number' || type === 'boolean' || type === 'string') {
      out.push({ env: 'IOTLESS_' + path.map(toEnvSegment).join('_'), path, type })
    } else if (node.enum !== undefined) {
      out.push({ env: 'IOTLESS_' + path.map(toEnvSegment).join('_'), path, type: 'string' })
    } else if (isIntegerOrWord(node)) {
      out.push({ env: 'IOTLESS_' + path.map(toEnvSegment).join('_'), path, type: 'integer-or-word' })
    }
  }
  return out
}

/** Plain decimal only: Number() would also take 0x10, 0b1, 1e3, " 12 " and "Infinity" for an integer field. */
const DECIMAL_INTEGER = /^-?\d+$/
const DECIMAL_NUMBER = /^-?(\d+(\.\d+)?|\.\d+)$/

function coerce (leaf: EnvLeaf, raw: string): unknown {
  // The word is checked by the schema like a value in the file (naming the field and the words it takes).
  if (leaf.type === 'integer-or-word') return DECIMAL_INTEGER.test(raw) ? Number(raw) : raw
  if (leaf.type === 'integer' || leaf.type === 'number') {
    const integer = leaf.type === 'integer'
    if (!(integer ? DECIMAL_INTEGER : DECIMAL_NUMBER).test(raw)) {
      throw new IotlessError('CONFIG_ENV_INVALID', `${leaf.env}=${JSON.stringify(raw)}: expected a decimal ${integer ? 'integer (digits only, e.g. 1883)' : 'number (e.g. 0.5)'} for ${leaf.path.join('.')}`)
    }
    return Number(raw)
  }
  if (leaf.type === 'boolean') {
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    throw new IotlessError('CONFIG_ENV_INVALID', `${leaf.env}=${JSON.stringify(raw)}: expected true or false for ${leaf.path.join('.')}`)
  }
  return raw
}

const SERVICE_ADDR = /^(tcp|udp|sctp):\/\/[^\s/:]+:\d+$/

/**
 * Kubernetes "service links": for each Service in the pod's namespace the kubelet injects <SVC>_SERVICE_HOST,
 * <SVC>_SERVICE_PORT[_<PORTNAME>], <SVC>_PORT=tcp://ip:port and <SVC>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]
 * (<SVC> = the Service name upper-cased, dashes as underscores; kubernetes pkg/kubelet/envvars). A Service named
 * `iotless` or `iotless-broker` thus injects IOTLESS_PORT or even IOTLESS_BROKER_PORT=tcp://10.0.0.5:1883.
 * A variable is taken for a link only when its name and its value both have the link's form and
 * <SVC>_SERVICE_HOST is set too, so a real setting with a bad value is still refused.
 */
export function isServiceLink (name: string, value: string, env: NodeJS.ProcessEnv): boolean {
  if (/_SERVICE_HOST$/.test(name)) return /^[^\s]+$/.test(value)
  const svc = /^(.+)_SERVICE_PORT(_[A-Z0-9_]+)?$/.exec(name)
  if (svc !== null) return env[`${svc[1] as string}_SERVICE_HOST`] !== undefined && /^\d+$/.test(value)
  const m = /^(.+?)_PORT(?:_(\d+)_(TCP|UDP|SCTP)(?:_(PROTO|PORT|ADDR))?)?$/.exec(name)
  if (m === null || env[`${m[1] as string}_SERVICE_HOST`] === undefined) return false
  const [, , port, proto, part] = m
  if (port === undefined || proto === undefined) return SERVICE_ADDR.test(value)
  const scheme = proto.toLowerCase()
  switch (part) {
    case undefined: return SERVICE_ADDR.test(value) && value.startsWith(`${scheme}://`) && value.endsWith(`:${port}`)
    case 'PROTO': return value === scheme
    case 'PORT': return value === port
    default: return value !== '' && !/\s/.test(value)
  }
}

export interface EnvOverrideResult {
  /** IOTLESS_* variables applied onto the config. */
  applied: string[]
  /** IOTLESS_* variables recognised as Kubernetes service links and left alone. */
  ignored: string[]
}

/**
 * Applies IOTLESS_* variables onto the raw (unvalidated) config object, so the schema then checks them like
 * any other value. An IOTLESS_ variable that names no field is an error, as a misspelt key in the file is;
 * Kubernetes service links (isServiceLink) are skipped and reported in `ignored`.
 */
export function applyEnvOverrides (raw: Record<string, unknown>, env: NodeJS.ProcessEnv, leaves: EnvLeaf[], reserved: ReadonlySet<string> = new Set()): EnvOverrideResult {
  const byName = new Map(leaves.map((l) => [l.env, l]))
  const applied: string[] = []
  const ignored: string[] = []
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('IOTLESS_') || value === undefined || reserved.has(name)) continue
    if (isServiceLink(name, value, env)) { ignored.push(name); continue }
    const leaf = byName.get(name)
    if (leaf === undefined) {
      throw new IotlessError('CONFIG_ENV_INVALID', `${name} is not a known setting. Known variables: ${[...byName.keys()].join(', ')}` +
        ' (Kubernetes service links such as IOTLESS_SERVICE_HOST and IOTLESS_PORT=tcp://... are ignored)')
    }
    let node: Record<string, unknown> = raw
    for (const key of leaf.path.slice(0, -1)) {
      const next = node[key]
      if (next === undefined || next === null) node[key] = {}
      else if (typeof next !== 'object' || Array.isArray(next)) {
        throw new IotlessError('CONFIG_INVALID', `${leaf.path.slice(0, -1).join('.')}: expected an object (needed to apply ${name})`)
      }
      node = node[key] as Record<string, unknown>
    }
    node[leaf.path[leaf.path.length - 1] as string] = coerce(leaf, value)
    applied.push(name)
  }
  return { applied, ignored }
}
