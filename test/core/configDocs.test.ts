// docs/config.md must name every setting, so the reference cannot fall behind core/config/schema.ts.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { configJsonSchema, RESERVED_ENV } from '../../core/config/loadConfig.js'
import { envLeaves, type SchemaNode } from '../../core/config/envOverrides.js'

const docs = readFileSync(new URL('../../../docs/config.md', import.meta.url), 'utf8')
const leaves = envLeaves(configJsonSchema())

/** Table rows of docs/config.md, keyed by the field in their first cell. */
function rowsByField (markdown: string): Map<string, string> {
  const rows = new Map<string, string>()
  for (const line of markdown.split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|(.*)$/.exec(line.trim())
    if (m !== null) rows.set(m[1] as string, m[2] as string)
  }
  return rows
}
const rows = rowsByField(docs)

t.test('there are settings to check', async (t) => {
  t.ok(leaves.length >= 10, `${leaves.length} environment leaves`)
})

t.test('every scalar setting has a row naming its IOTLESS_* variable', async (t) => {
  const missing: string[] = []
  for (const leaf of leaves) {
    const row = rows.get(leaf.path.join('.'))
    if (row === undefined) missing.push(`${leaf.path.join('.')}: no row`)
    else if (!row.includes('`' + leaf.env + '`')) missing.push(`${leaf.path.join('.')}: row does not name ${leaf.env}`)
  }
  t.same(missing, [])
})

t.test('no row names an IOTLESS_* variable that does not exist', async (t) => {
  const known = new Set([...leaves.map((l) => l.env), ...RESERVED_ENV])
  // The Kubernetes service links the page explains are ignored (envOverrides.ts isServiceLink) are named as examples.
  const serviceLink = /^IOTLESS_PORT(_\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?$|^IOTLESS(_[A-Z0-9_]+)?_SERVICE_(HOST|PORT(_[A-Z0-9_]+)?)$/
  const named = [...docs.matchAll(/\bIOTLESS_[A-Z0-9_]*[A-Z0-9]\b/g)].map((m) => m[0])
  t.same(named.filter((n) => !known.has(n) && !serviceLink.test(n)), [])
})

t.test('the list and map fields (file only) are documented too', async (t) => {
  const schema = configJsonSchema()
  const itemsOf = (node: SchemaNode | undefined): SchemaNode | undefined => node?.items
  const route = itemsOf(schema.properties?.routes)
  const fn = schema.properties?.functions?.additionalProperties
  t.ok(route?.properties !== undefined && typeof fn === 'object' && fn.properties !== undefined, 'schema shape as expected')
  const missing: string[] = []
  for (const key of Object.keys(route?.properties ?? {})) if (!rows.has(`routes[].${key}`)) missing.push(`routes[].${key}`)
  if (typeof fn === 'object') for (const key of Object.keys(fn.properties ?? {})) if (!rows.has(`functions.<name>.${key}`)) missing.push(`functions.<name>.${key}`)
  t.same(missing, [])
})

t.test('every documented field exists in the schema', async (t) => {
  const schema = configJsonSchema()
  const route = schema.properties?.routes?.items?.properties ?? {}
  const fnNode = schema.properties?.functions?.additionalProperties
  const fn = typeof fnNode === 'object' ? fnNode.properties ?? {} : {}
  const scalar = new Set(leaves.map((l) => l.path.join('.')))
  const stale: string[] = []
  const targetKeys = targetFields()
  for (const field of rows.keys()) {
    if (field.startsWith('targets.<name>.')) { if (!targetKeys.has(field.slice(15))) stale.push(field) } else if (field.startsWith('routes[].')) { if (!(field.slice(9) in route)) stale.push(field) } else if (field.startsWith('functions.<name>.')) { if (!(field.slice(17) in fn)) stale.push(field) } else if (field.includes('.') && !scalar.has(field)) stale.push(field)
  }
  t.same(stale, [])
})

/** Every field any kind of target has (the schema is a union of one object per kind). */
function targetFields (): Set<string> {
  const node = configJsonSchema().properties?.targets?.additionalProperties
  const variants = (typeof node === 'object' ? (node as SchemaNode & { oneOf?: SchemaNode[]; anyOf?: SchemaNode[] }) : {})
  const keys = new Set<string>()
  for (const v of [...(variants.oneOf ?? []), ...(variants.anyOf ?? [])]) for (const k of Object.keys(v.properties ?? {})) keys.add(k)
  return keys
}

t.test('every field of every target kind is documented', async (t) => {
  const keys = targetFields()
  t.ok(keys.has('kind') && keys.has('url') && keys.has('apiHost'), 'schema shape as expected')
  t.same([...keys].filter((k) => !rows.has(`targets.<name>.${k}`)), [])
})

t.test('the documented defaults match the schema', async (t) => {
  interface Node { default?: unknown; properties?: Record<string, Node> }
  const schema = configJsonSchema() as Node
  for (const leaf of leaves) {
    // Walked down the whole path: a nested section's own default is an object, not the leaf's.
    let node: Node | undefined = schema
    for (const k of leaf.path) node = node?.properties?.[k]
    const def = node?.default
    const row = rows.get(leaf.path.join('.'))
    if (row === undefined || def === undefined) continue
    const cells = row.split(/(?<!\\)\|/).map((c) => c.trim()) // \| inside a cell is not a column break
    const shown = cells[1] ?? '' // cells: type, default, env, meaning
    const want = def === '' ? '`""`' : '`' + String(def) + '`'
    t.ok(shown.startsWith(want), `${leaf.path.join('.')}: default ${want}, docs say ${shown}`)
  }
})
