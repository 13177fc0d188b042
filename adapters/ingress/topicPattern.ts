/**
 * Route topic patterns: MQTT topic filters (MQTT 3.1.1 section 4.7, MQTT 5.0 section 4.7) in which a level
 * may also be a named segment, `{device}`, that matches one level like `+` and captures its value for
 * reply-topic templates. A leading `$share/<group>/` (MQTT 5.0 section 4.8.2) is kept for the subscription
 * and ignored for matching, since the broker delivers the plain topic.
 */
export interface TopicPattern {
  /** As written in the config. */
  readonly source: string
  /** What to SUBSCRIBE to: named segments become `+`; `$share/<group>/` kept. */
  readonly filter: string
  /** The filter that received topics are matched against (without `$share/<group>/`). */
  readonly matchFilter: string
  /** Per level: a literal, '+', '#', or a capture name. */
  readonly levels: ReadonlyArray<Level>
  readonly names: ReadonlyArray<string>
}

type Level = { kind: 'literal'; value: string } | { kind: 'single'; name?: string } | { kind: 'multi' }

export class TopicPatternError extends Error {
  constructor (message: string) { super(message); this.name = 'TopicPatternError' }
}

const NAME = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/
const MAX_TOPIC_BYTES = 65535 // MQTT-1.5.3: UTF-8 strings are at most 65535 bytes

export function compileTopicPattern (source: string): TopicPattern {
  if (source.length === 0) throw new TopicPatternError('a topic filter must be at least one character long [MQTT-4.7.3-1]')
  if (Buffer.byteLength(source, 'utf8') > MAX_TOPIC_BYTES) throw new TopicPatternError('a topic filter is at most 65535 bytes')
  if (source.includes('\u0000')) throw new TopicPatternError('a topic filter must not contain U+0000 [MQTT-4.7.3-2]')
  let rest = source
  let sharePrefix = ''
  if (source.startsWith('$share/')) {
    const parts = source.split('/')
    const group = parts[1] ?? ''
    // MQTT 5.0 section 4.8.2: ShareName is at least one character and holds no '/', '+' or '#'.
    if (group === '' || group.includes('+') || group.includes('#') || parts.length < 3) {
      throw new TopicPatternError('a shared subscription is $share/<group>/<filter>, with a group name of at least one character and no + or #')
    }
    sharePrefix = `$share/${group}/`
    rest = parts.slice(2).join('/')
    if (rest === '') throw new TopicPatternError('a shared subscription needs a topic filter after $share/<group>/')
  }
  const levels: Level[] = []
  const names: string[] = []
  const raw = rest.split('/')
  raw.forEach((lvl, i) => {
    if (lvl === '#') {
      if (i !== raw.length - 1) throw new TopicPatternError(`'#' must be the last level of a topic filter [MQTT-4.7.1-2] in "${source}"`)
      levels.push({ kind: 'multi' })
    } else if (lvl === '+') {
      levels.push({ kind: 'single' })
    } else if (lvl.startsWith('{') || lvl.endsWith('}')) {
      const m = NAME.exec(lvl)
      if (m === null) throw new TopicPatternError(`named segment "${lvl}" must be a whole level written {name}, with a name of letters, digits and _`)
      const name = m[1] as string
      if (names.includes(name)) throw new TopicPatternError(`named segment {${name}} appears twice in "${source}"`)
      names.push(name)
      levels.push({ kind: 'single', name })
    } else {
      if (lvl.includes('#') || lvl.includes('+')) {
        throw new TopicPatternError(`wildcards must occupy a whole level [MQTT-4.7.1-2, MQTT-4.7.1-3]: "${lvl}" in "${source}"`)
      }
      if (lvl.includes('{') || lvl.includes('}')) throw new TopicPatternError(`named segment in "${lvl}" must be a whole level written {name}`)
      levels.push({ kind: 'literal', value: lvl })
    }
  })
  const matchFilter = levels.map((l) => l.kind === 'literal' ? l.value : l.kind === 'multi' ? '#' : '+').join('/')
  return { source, filter: sharePrefix + matchFilter, matchFilter, levels, names }
}

/**
 * Matches a received topic name. Returns the captured named segments, or undefined for no match.
 * - `+` and named segments match exactly one level, which may be empty [MQTT-4.7.1-3 non-normative examples];
 * - `#` matches the parent level and any number of child levels ("sport/#" matches "sport") [MQTT-4.7.1-2];
 * - topics starting with `$` are not matched by a filter whose first level is a wildcard [MQTT-4.7.2-1].
 */
export function matchTopic (pattern: TopicPattern, topic: string): Record<string, string> | undefined {
  const parts = topic.split('/')
  const first = pattern.levels[0]
  if (topic.startsWith('$') && first !== undefined && first.kind !== 'literal') return undefined
  const params: Record<string, string> = {}
  const levels = pattern.levels
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as Level
    if (level.kind === 'multi') return params
    const part = parts[i]
    if (part === undefined) return undefined
    if (level.kind === 'literal') {
      if (level.value !== part) return undefined
    } else if (level.name !== undefined) {
      params[level.name] = part
    }
  }
  return parts.length === levels.length ? params : undefined
}

/** Topic names used for PUBLISH must have no wildcards and no U+0000 [MQTT-3.3.2-2, MQTT-4.7.3-2]. */
export function checkTopicName (topic: string): string | undefined {
  if (topic.length === 0) return 'a topic name must be at least one character long [MQTT-4.7.3-1]'
  if (topic.includes('+') || topic.includes('#')) return 'a topic name must not contain the wildcards + or # [MQTT-3.3.2-2]'
  if (topic.includes('\u0000')) return 'a topic name must not contain U+0000 [MQTT-4.7.3-2]'
  if (Buffer.byteLength(topic, 'utf8') > MAX_TOPIC_BYTES) return 'a topic name is at most 65535 bytes'
  return undefined
}

const TEMPLATE_VAR = /\{([A-Za-z_][A-Za-z0-9_]*)\}/g

export function templateVariables (template: string): string[] {
  return [...template.matchAll(TEMPLATE_VAR)].map((m) => m[1] as string)
}

/**
 * Fills `{name}` from the captured segments. A captured value holds no '/' but may hold '+' or '#'
 * only if the publisher's topic did, which MQTT forbids, so the result is a valid topic name whenever
 * the template is.
 */
export function renderTopicTemplate (template: string, params: Readonly<Record<string, string>>): string {
  return template.replace(TEMPLATE_VAR, (whole, name: string) => params[name] ?? whole)
}

/**
 * True when some topic name matches both filters (no `$share/` prefix; `{name}` counts as `+`). Used to
 * refuse a reply or response topic that would come back in as input. `#` also matches its parent level
 * [MQTT-4.7.1-2]; a `$` topic is matched only by a filter whose first level is literal [MQTT-4.7.2-1].
 */
export function filtersOverlap (a: string, b: string): boolean {
  const la = a.split('/').map(asWildcard)
  const lb = b.split('/').map(asWildcard)
  const dollar = (l: string[]): boolean => (l[0] ?? '').startsWith('$')
  if ((dollar(la) && (lb[0] === '+' || lb[0] === '#')) || (dollar(lb) && (la[0] === '+' || la[0] === '#'))) return false
  for (let i = 0; ; i++) {
    const x = la[i]
    const y = lb[i]
    if (x === '#' || y === '#') return true
    if (x === undefined || y === undefined) return x === undefined && y === undefined
    if (x !== '+' && y !== '+' && x !== y) return false
  }
}

function asWildcard (level: string): string {
  return NAME.test(level) ? '+' : level
}

/** A topic template (`{name}` levels) as the filter of every topic it can render to. */
export function templateAsFilter (template: string): string {
  return template.split('/').map((l) => (NAME.test(l) ? '+' : l)).join('/')
}
