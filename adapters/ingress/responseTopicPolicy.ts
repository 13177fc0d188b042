import type { Route, RouteTable } from './routeTable.js'
import { checkTopicName, compileTopicPattern, filtersOverlap, matchTopic, templateAsFilter, type TopicPattern } from './topicPattern.js'

/**
 * Where a device may ask for its reply (the MQTT 5 Response Topic): only topics matching one of its route's
 * `responseTopics` filters, and never a topic that would come back in (an input of any route) or that is the
 * dead-letter topic, however the filters are written. Without such a check a device makes iotless publish
 * to another device's topic, into the dead-letter topic, or into its own input (a loop). Pure.
 */
export class ResponseTopicPolicy {
  readonly #allowed = new Map<Route, TopicPattern[]>()
  readonly #inputs: TopicPattern[]
  readonly #deadLetters: TopicPattern[]

  constructor (routes: RouteTable, defaultDeadLetterTopic: string) {
    this.#inputs = routes.routes.map((r) => r.pattern)
    const dl = new Set<string>()
    if (defaultDeadLetterTopic !== '') dl.add(templateAsFilter(defaultDeadLetterTopic))
    for (const r of routes.routes) {
      this.#allowed.set(r, r.responseTopics.map((f) => compileTopicPattern(f)))
      if (r.deadLetterTemplate !== undefined && r.deadLetterTemplate !== '') dl.add(templateAsFilter(r.deadLetterTemplate))
    }
    this.#deadLetters = [...dl].map((f) => compileTopicPattern(f))
  }

  /** Undefined when the route may reply to `topic`; else why not. */
  refusal (route: Route, topic: string): string | undefined {
    const bad = checkTopicName(topic)
    if (bad !== undefined) return `response topic "${topic}": ${bad}`
    if (topic.startsWith('$')) return `response topic "${topic}" is a system topic`
    const input = this.#inputs.find((p) => matchTopic(p, topic) !== undefined)
    if (input !== undefined) return `response topic "${topic}" is an input of a route ("${input.source}"): the reply would come back in`
    if (this.#deadLetters.some((p) => matchTopic(p, topic) !== undefined)) return `response topic "${topic}" is the dead-letter topic`
    const allowed = this.#allowed.get(route) ?? []
    if (!allowed.some((p) => matchTopic(p, topic) !== undefined)) {
      return allowed.length === 0
        ? `response topic "${topic}": the route allows none (set ${route.label}.responseTopics)`
        : `response topic "${topic}" matches none of ${route.label}.responseTopics (${allowed.map((p) => p.source).join(', ')})`
    }
    return undefined
  }
}

/** Config check: responseTopics filters that overlap an input or the dead-letter topic can never be allowed. */
export function overlapsInputOrDeadLetter (filter: string, inputs: string[], deadLetters: string[]): string | undefined {
  const input = inputs.find((f) => filtersOverlap(filter, f))
  if (input !== undefined) return `"${filter}" overlaps the input filter "${input}": a reply there would come back in`
  const dl = deadLetters.find((f) => filtersOverlap(filter, f))
  if (dl !== undefined) return `"${filter}" overlaps the dead-letter topic "${dl}"`
  return undefined
}
