import { filterCoversFilter, filterMatchesTopic } from './topicRules.js'

/** One rule of broker.acl: what the named users (`*`: every user of the users file) may publish and subscribe to. */
export interface AclRule {
  readonly users: ReadonlyArray<string>
  /** Topic filters; `{username}` and `{clientId}` stand for the client's own, as one whole level each. */
  readonly publish: ReadonlyArray<string>
  readonly subscribe: ReadonlyArray<string>
}

export interface AclPolicy {
  readonly rules: ReadonlyArray<AclRule>
  /** Filters only the adapter may publish to: its reply and dead-letter topics. */
  readonly adapterOnly: ReadonlyArray<string>
  /** The adapter's client id: nobody else may connect with it (that would take over its session). */
  readonly adapterClientId: string
  /** A user's client id must be its username, or its username, `:` and anything (`sensor-17:boot2`). */
  readonly bindClientIdToUser: boolean
}

/** Who a connection is, once authenticated. `username` undefined: anonymous (allowed only when configured so). */
export interface ClientIdentity {
  readonly username: string | undefined
  readonly clientId: string
  readonly isAdapter: boolean
}

/** A value put into a filter must be one plain level, or the rule would widen (`a/#` as a username). */
function plainLevel (v: string): boolean {
  return v !== '' && !/[/+#\p{Cc}]/u.test(v)
}

/**
 * The embedded broker's authorization, pure. Authenticated users get only what the rules allow (nothing by
 * default); anonymous clients (loopback, or broker.allowAnonymous) everything but the adapter-only topics;
 * the adapter everything. `$SYS/` is the broker's own for everyone (aedes' default, kept).
 */
export class BrokerAcl {
  constructor (private readonly policy: AclPolicy) {}

  /** Why this client may not connect with this client id, or undefined. */
  connectProblem (who: ClientIdentity): string | undefined {
    if (who.isAdapter) return undefined
    if (who.clientId === this.policy.adapterClientId) return `client id ${who.clientId} is the adapter's`
    if (this.policy.bindClientIdToUser && who.username !== undefined && who.clientId !== '' &&
      who.clientId !== who.username && !who.clientId.startsWith(`${who.username}:`)) {
      return `client id ${JSON.stringify(who.clientId)} is neither the username nor starts with "${who.username}:" (broker.bindClientIdToUser)`
    }
    return undefined
  }

  /** Why this client may not publish to this (already validated) topic name, or undefined. */
  publishProblem (who: ClientIdentity, topic: string): string | undefined {
    if (topic.startsWith('$SYS/') || topic === '$SYS') return '$SYS/ topics are reserved for the broker'
    if (who.isAdapter) return undefined
    if (this.policy.adapterOnly.some((f) => filterMatchesTopic(f, topic))) return `${topic} is a reply or dead-letter topic: only the adapter publishes there`
    if (who.username === undefined) return undefined
    if (this.filtersOf(who, 'publish').some((f) => filterMatchesTopic(f, topic))) return undefined
    return `no broker.acl rule lets ${who.username} publish to ${topic}`
  }

  /** Whether this client may subscribe to this (already validated) filter. */
  maySubscribe (who: ClientIdentity, filter: string): boolean {
    if (who.isAdapter || who.username === undefined) return true
    return this.filtersOf(who, 'subscribe').some((f) => filterCoversFilter(f, filter))
  }

  private filtersOf (who: ClientIdentity, kind: 'publish' | 'subscribe'): string[] {
    const out: string[] = []
    for (const rule of this.policy.rules) {
      if (!rule.users.includes('*') && !rule.users.includes(who.username as string)) continue
      for (const f of rule[kind]) {
        const filled = this.fill(f, who)
        if (filled !== undefined) out.push(filled)
      }
    }
    return out
  }

  private fill (filter: string, who: ClientIdentity): string | undefined {
    let ok = true
    const filled = filter.replace(/\{(username|clientId)\}/g, (_m, name: string) => {
      const v = name === 'username' ? who.username ?? '' : who.clientId
      if (!plainLevel(v)) ok = false
      return v
    })
    return ok ? filled : undefined
  }
}
