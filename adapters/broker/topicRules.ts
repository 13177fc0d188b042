/**
 * Topic names and filters as the embedded broker accepts them from clients (MQTT 3.1.1 and 5.0, section 4.7),
 * checked before aedes sees them. Pure: no broker, no sockets.
 */

const MAX_TOPIC_BYTES = 65535 // [MQTT-1.5.3]: a UTF-8 string is at most 65535 bytes

function commonProblem (s: string, what: string): string | undefined {
  if (s.length === 0) return `a topic ${what} must be at least one character long [MQTT-4.7.3-1]`
  if (s.includes('\u0000')) return `a topic ${what} must not contain U+0000 [MQTT-4.7.3-2]`
  if (Buffer.byteLength(s, 'utf8') > MAX_TOPIC_BYTES) return `a topic ${what} is at most 65535 bytes [MQTT-4.7.3-3]`
  // Ill-formed UTF-8 [MQTT-1.5.3-1] cannot be seen here: mqtt-packet has already decoded it into U+FFFD.
  return undefined
}

/**
 * Why a PUBLISH topic name is refused, or undefined. Beyond the spec, an empty level (`sensors//reading`, a
 * leading or trailing `/`) is refused: aedes' live matcher (mqemitter, matchEmptyLevels) lets `+` match an empty
 * level but its session store (aedes-persistence's qlobber trie) does not, so a QoS 1 message on such a topic
 * reaches a persistent-session subscriber of `sensors/+/reading` with no stored copy, aedes' outgoingUpdate
 * fails with "no such packet" and aedes drops that subscriber's connection (the adapter's).
 */
export function topicNameProblem (topic: string): string | undefined {
  const common = commonProblem(topic, 'name')
  if (common !== undefined) return common
  if (topic.includes('+') || topic.includes('#')) return 'a topic name must not contain the wildcards + or # [MQTT-3.3.2-2, MQTT-4.7.1-1]'
  if (topic.split('/').includes('')) return 'a topic name must not have an empty level (a leading, trailing or doubled /): aedes cannot queue it'
  return undefined
}

/** Why a SUBSCRIBE topic filter is refused, or undefined. */
export function topicFilterProblem (filter: string): string | undefined {
  const common = commonProblem(filter, 'filter')
  if (common !== undefined) return common
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i] as string
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return "'#' must be a whole level and the last one [MQTT-4.7.1-2]"
    if (l.includes('+') && l !== '+') return "'+' must be a whole level [MQTT-4.7.1-3]"
  }
  return undefined
}

/**
 * Whether a topic name matches a filter: `+` is one level, `#` the parent level and any below it
 * [MQTT-4.7.1-2]; a topic starting with `$` is not matched by a filter starting with a wildcard [MQTT-4.7.2-1].
 */
export function filterMatchesTopic (filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false
  for (let i = 0; i < f.length; i++) {
    const fl = f[i] as string
    if (fl === '#') return true
    const tl = t[i]
    if (tl === undefined) return false
    if (fl !== '+' && fl !== tl) return false
  }
  return f.length === t.length
}

/** Whether every topic that `requested` matches is also matched by `allowed` (a subscription inside an ACL filter). */
export function filterCoversFilter (allowed: string, requested: string): boolean {
  const a = allowed.split('/')
  const r = requested.split('/')
  // A filter starting with a wildcard matches no `$` topic [MQTT-4.7.2-1], so it covers no `$` filter.
  if (requested.startsWith('$') && (a[0] === '+' || a[0] === '#')) return false
  for (let i = 0; i < a.length; i++) {
    const al = a[i] as string
    if (al === '#') return true
    const rl = r[i]
    if (rl === undefined) return false
    if (rl === '#') return false
    if (al === '+') continue
    if (rl === '+' || rl !== al) return false
  }
  return a.length === r.length
}

/**
 * A topic template of the adapter's (`alerts/{node}`, `iotless/dead-letter`) as a filter of every topic it can
 * render: a level holding a `{name}` becomes `+`.
 */
export function templateToFilter (template: string): string {
  return template.split('/').map((l) => /\{[A-Za-z_][A-Za-z0-9_]*\}/.test(l) ? '+' : l).join('/')
}
