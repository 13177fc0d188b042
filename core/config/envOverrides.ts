import { IotlessError } from '../errors.js'

/** A JSON Schema node, as z.toJSONSchema writes it (only the parts read here). */
export interface SchemaNode {
  type?: string | string[]
  properties?: Record<string, SchemaNode>
  items?: SchemaNode
  additionalProperties?: SchemaNode | boolean
  enum?: unknown[]
  anyOf?: SchemaNode[]
}

export interface EnvLeaf { env: string; path: string[]; type: 'integer' | 'number' | 'boolean' | 'string' }

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
    }
  }
  return out
}

function coerce (leaf: EnvLeaf, raw: string): unknown {
  if (leaf.type === 'integer' || leaf.type === 'number') {
    const n = Number(raw)
    if (raw.trim() === '' || !Number.isFinite(n)) {
      throw new IotlessError('CONFIG_ENV_INVALID', `${leaf.env}=${JSON.stringify(raw)}: expected a number for ${leaf.path.join('.')}`)
    }
    return n
  }
  if (leaf.type === 'boolean') {
    if (raw === 'true' || raw === '1') return true
    if (raw === 'false' || raw === '0') return false
    throw new IotlessError('CONFIG_ENV_INVALID', `${leaf.env}=${JSON.stringify(raw)}: expected true or false for ${leaf.path.join('.')}`)
  }
  return raw
}

/**
 * Applies IOTLESS_* variables onto the raw (unvalidated) config object, so the schema then checks them like
 * any other value. An IOTLESS_ variable that names no field is an error, as a misspelt key in the file is.
 */
export function applyEnvOverrides (raw: Record<string, unknown>, env: NodeJS.ProcessEnv, leaves: EnvLeaf[], reserved: ReadonlySet<string> = new Set()): string[] {
  const byName = new Map(leaves.map((l) => [l.env, l]))
  const applied: string[] = []
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('IOTLESS_') || value === undefined || reserved.has(name)) continue
    const leaf = byName.get(name)
    if (leaf === undefined) {
      throw new IotlessError('CONFIG_ENV_INVALID', `${name} is not a known setting. Known variables: ${[...byName.keys()].join(', ')}`)
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
  return applied
}
