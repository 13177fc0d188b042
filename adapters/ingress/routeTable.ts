import type { ConfigProblem } from '../../core/config/loadConfig.js'
import type { RouteConfig } from '../../core/config/schema.js'
import { overlapsInputOrDeadLetter } from './responseTopicPolicy.js'
import { checkTopicName, compileTopicPattern, filtersOverlap, matchTopic, templateAsFilter, templateVariables, TopicPatternError, type TopicPattern } from './topicPattern.js'
import { placementTargetName } from '../placement/placementTargetName.js'

export interface Route {
  /** Position in the config, and the metric label (`routes[0]` reads as the config does). */
  readonly index: number
  readonly label: string
  readonly pattern: TopicPattern
  readonly functionName: string
  readonly replyTemplate: string | undefined
  readonly qos: 0 | 1 | 2
  readonly type: string
  /** `local` or a name under `targets`. */
  readonly target: string
  readonly maxInFlight: number
  /** Undefined: the adapter's default. */
  readonly maxAttempts: number | undefined
  /** Undefined: the adapter's default; '' : none. */
  readonly deadLetterTemplate: string | undefined
  readonly topicPrefix: string | undefined
  readonly accept: 'any' | 'json'
  readonly batch: { readonly maxMessages: number; readonly maxWaitMs: number } | undefined
  /** Filters an MQTT 5 Response Topic must match to be replied to; none: response topics are refused. */
  readonly responseTopics: ReadonlyArray<string>
}

/** Checks a topic template (`{name}` takes a named segment) against the route's filter. */
function checkTemplate (template: string, field: string, i: number, topic: string, pattern: TopicPattern | undefined, problems: ConfigProblem[]): void {
  const probe = template.replace(/\{[A-Za-z_][A-Za-z0-9_]*\}/g, 'x')
  const bad = checkTopicName(probe)
  if (bad !== undefined) problems.push({ path: ['routes', i, field], message: bad })
  if (pattern === undefined) return
  for (const v of templateVariables(template)) {
    if (!pattern.names.includes(v)) {
      problems.push({
        path: ['routes', i, field],
        message: `{${v}} is not a named segment of the topic "${topic}" (named: ${pattern.names.length === 0 ? 'none' : pattern.names.map((n) => `{${n}}`).join(', ')})`
      })
    }
  }
}

export interface RouteMatch { route: Route; params: Record<string, string> }

/**
 * Checks every route's filter, reply and dead-letter templates and response-topic filters; used by config
 * validation, so errors name the field. `adapter.deadLetterTopic` is the default dead-letter topic.
 */
export function checkRoutes (routes: ReadonlyArray<RouteConfig>, adapter: { deadLetterTopic: string } = { deadLetterTopic: '' }): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  const inputs: string[] = []
  for (const r of routes) {
    try { inputs.push(compileTopicPattern(r.topic).matchFilter) } catch { /* reported below */ }
  }
  const deadLetters = [adapter.deadLetterTopic, ...routes.map((r) => r.deadLetter ?? '')].filter((d) => d !== '').map(templateAsFilter)
  routes.forEach((r, i) => {
    let pattern: TopicPattern | undefined
    try {
      pattern = compileTopicPattern(r.topic)
    } catch (err) {
      if (!(err instanceof TopicPatternError)) throw err
      problems.push({ path: ['routes', i, 'topic'], message: err.message })
    }
    if (r.reply !== undefined) {
      checkTemplate(r.reply, 'reply', i, r.topic, pattern, problems)
      // A reply that matches the route's own filter is read back as input: an endless loop.
      if (pattern !== undefined && filtersOverlap(templateAsFilter(r.reply), pattern.matchFilter)) {
        problems.push({ path: ['routes', i, 'reply'], message: `the reply topic "${r.reply}" matches the route's own topic "${r.topic}": each reply would be handled again, for ever` })
      }
    }
    r.responseTopics.forEach((f, j) => {
      try {
        const p = compileTopicPattern(f)
        if (p.names.length > 0 || p.filter !== p.matchFilter) throw new TopicPatternError('a response-topic filter uses + and #, not {name} or $share/')
        const bad = overlapsInputOrDeadLetter(p.matchFilter, inputs, deadLetters)
        if (bad !== undefined) problems.push({ path: ['routes', i, 'responseTopics', j], message: bad })
      } catch (err) {
        if (!(err instanceof TopicPatternError)) throw err
        problems.push({ path: ['routes', i, 'responseTopics', j], message: err.message })
      }
    })
    if (r.deadLetter !== undefined && r.deadLetter !== '') checkTemplate(r.deadLetter, 'deadLetter', i, r.topic, pattern, problems)
    if (r.topicPrefix !== undefined && pattern !== undefined) {
      const prefix = r.topicPrefix
      if (/[+#]/.test(prefix)) {
        problems.push({ path: ['routes', i, 'topicPrefix'], message: 'a topic prefix is literal: no + or #' })
      } else if (!filterWithinPrefix(pattern.matchFilter, prefix)) {
        problems.push({ path: ['routes', i, 'topicPrefix'], message: `the filter "${r.topic}" reaches topics outside "${prefix}": write the filter under the prefix` })
      }
    }
  })
  return problems
}

/** True when every topic the filter can match starts with the prefix. */
export function filterWithinPrefix (filter: string, prefix: string): boolean {
  // Compare literally up to the first wildcard level; the prefix must end before it.
  const wildcardAt = filter.search(/(^|\/)[+#]/)
  const literal = wildcardAt === -1 ? filter : filter.slice(0, wildcardAt === 0 ? 0 : wildcardAt + 1)
  return literal.startsWith(prefix)
}

/**
 * The routes in config order. A message goes to every route whose filter matches it, so two functions can
 * watch one topic (as OpenWhisk rules fan one trigger out).
 */
export class RouteTable {
  readonly routes: ReadonlyArray<Route>

  constructor (routes: ReadonlyArray<RouteConfig>) {
    this.routes = routes.map((r, index) => ({
      index,
      label: `routes[${index}]`,
      pattern: compileTopicPattern(r.topic),
      functionName: r.function,
      replyTemplate: r.reply,
      qos: r.qos,
      type: r.type,
      target: r.targets === undefined ? r.target : placementTargetName(index, r.targets),
      maxInFlight: r.maxInFlight,
      maxAttempts: r.maxAttempts,
      deadLetterTemplate: r.deadLetter,
      topicPrefix: r.topicPrefix,
      accept: r.accept,
      batch: r.batch,
      responseTopics: r.responseTopics
    }))
  }

  match (topic: string): RouteMatch[] {
    const out: RouteMatch[] = []
    for (const route of this.routes) {
      const params = matchTopic(route.pattern, topic)
      if (params !== undefined) out.push({ route, params })
    }
    return out
  }

  /** One SUBSCRIBE entry per distinct filter, at the highest QoS any route asks for it. */
  subscriptions (): Record<string, { qos: 0 | 1 | 2 }> {
    const subs: Record<string, { qos: 0 | 1 | 2 }> = {}
    for (const r of this.routes) {
      const prev = subs[r.pattern.filter]
      if (prev === undefined || prev.qos < r.qos) subs[r.pattern.filter] = { qos: r.qos }
    }
    return subs
  }
}
