import type { Redis as RedisClient, RedisOptions } from 'ioredis'
import { IotlessError } from '../core/errors.js'
import type { DedupLimits, DedupStore, EffectStoreOptions, StateValue } from './effectStore.js'
import { loadDriver } from './loadDriver.js'
import { OccEffectStore, type CommitOutcome, type LogEntry, type OccBackend } from './occEffectStore.js'
import { encodeValue, type TxPlan, type VersionedValue } from './occTx.js'

/**
 * Connects to Redis and checks it answers, so a store that cannot be reached stops start-up naming `field`.
 * Commands fail at once while disconnected (no offline queue): a store lost at run time stops acknowledging
 * instead of queueing writes in memory. Durability is Redis's own: with appendonly yes and appendfsync always
 * every write is fsync'd; with the default everysec a Redis crash can lose the last second (an adapter crash
 * loses nothing).
 */
export async function openRedis (url: string, field: string): Promise<RedisClient> {
  const { Redis } = loadDriver<{ Redis: new (url: string, options: RedisOptions) => RedisClient }>('ioredis', field)
  const client = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000, retryStrategy: (n) => Math.min(n * 200, 2000) })
  client.on('error', () => { /* surfaced by the failing command; reconnects on its own */ })
  try {
    await client.connect()
    await client.ping()
  } catch (err) {
    client.disconnect()
    throw new IotlessError('STORE_UNAVAILABLE', `${field}: cannot reach Redis at ${redactUrl(url)}: ${(err as Error).message}`, { cause: err })
  }
  return client
}

function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '(unparsable URL)'
  }
}

// One script records and prunes atomically: ZADD the ids, drop those past the age, then the oldest past the count.
const RECORD = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local maxAge = tonumber(ARGV[2])
local maxEntries = tonumber(ARGV[3])
for i = 4, #ARGV do redis.call('ZADD', key, now, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. (now - maxAge))
local n = redis.call('ZCARD', key)
if n > maxEntries then redis.call('ZREMRANGEBYRANK', key, 0, n - maxEntries - 1) end
return n`

/** The dedup window as one sorted set (score = time recorded), shared by every adapter replica. */
export class RedisDedupStore implements DedupStore {
  private readonly key: string
  constructor (private readonly redis: RedisClient, private readonly limits: DedupLimits, prefix: string) {
    this.key = `${prefix}dedup`
  }

  async seen (ids: readonly string[], nowMs: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const scores = await this.redis.call('ZMSCORE', this.key, ...ids) as Array<string | null>
    const oldest = nowMs - this.limits.maxAgeMs
    const found = new Set<string>()
    ids.forEach((id, i) => {
      const s = scores[i]
      if (s !== null && s !== undefined && Number(s) >= oldest) found.add(id)
    })
    return found
  }

  async record (ids: readonly string[], nowMs: number): Promise<void> {
    if (ids.length === 0) return
    await this.redis.eval(RECORD, 1, this.key, nowMs, this.limits.maxAgeMs, this.limits.maxEntries, ...ids)
  }

  async size (nowMs: number): Promise<number> {
    return Number(await this.redis.eval(RECORD, 1, this.key, nowMs, this.limits.maxAgeMs, this.limits.maxEntries))
  }

  async close (): Promise<void> {
    this.redis.disconnect()
  }
}

// KEYS: [log key or a placeholder, clock key, log age index, read keys..., write keys...]
// ARGV: [has log (0/1), result json, reads, writes, logged at (ms), read versions..., write values ('' deletes)...]
const COMMIT = `
local hasLog = ARGV[1] == '1'
if hasLog then
  local had = redis.call('GET', KEYS[1])
  if had then return {'logged', had} end
end
local nReads = tonumber(ARGV[3])
local nWrites = tonumber(ARGV[4])
for i = 1, nReads do
  local v = redis.call('HGET', KEYS[3 + i], 'v')
  if (tonumber(v) or 0) ~= tonumber(ARGV[5 + i]) then return {'conflict'} end
end
if nWrites > 0 then
  local version = redis.call('INCR', KEYS[2])
  for i = 1, nWrites do
    local key = KEYS[3 + nReads + i]
    local value = ARGV[5 + nReads + i]
    if value == '' then redis.call('DEL', key) else redis.call('HSET', key, 'v', version, 'json', value) end
  end
end
if hasLog then
  redis.call('SET', KEYS[1], ARGV[2])
  redis.call('ZADD', KEYS[3], ARGV[5], KEYS[1])
end
return {'committed'}`

// Deletes up to 1000 log entries logged before ARGV[1], and their index entries; returns how many.
const PRUNE_LOG = `
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1], 'LIMIT', 0, 1000)
for _, k in ipairs(old) do redis.call('DEL', k) end
if #old > 0 then redis.call('ZREM', KEYS[1], unpack(old)) end
return #old`

class RedisBackend implements OccBackend {
  constructor (private readonly redis: RedisClient, private readonly prefix: string) {}

  async readKey (key: string): Promise<VersionedValue> {
    const [v, json] = await this.redis.hmget(this.stateKey(key), 'v', 'json')
    return v === null || v === undefined || json === null || json === undefined ? { value: undefined, version: 0 } : { value: JSON.parse(json) as StateValue, version: Number(v) }
  }

  async readLog (eventId: string, key: string): Promise<string | undefined> {
    return (await this.redis.get(this.logKey(eventId, key))) ?? undefined
  }

  async commit (plan: TxPlan, log: LogEntry | undefined): Promise<CommitOutcome> {
    const reads = [...plan.reads]
    const writes = [...plan.writes]
    const keys = [log === undefined ? `${this.prefix}nolog` : this.logKey(log.eventId, log.key), `${this.prefix}clock`, `${this.prefix}logat`,
      ...reads.map(([k]) => this.stateKey(k)), ...writes.map(([k]) => this.stateKey(k))]
    const args = [log === undefined ? '0' : '1', log?.resultJson ?? '', String(reads.length), String(writes.length), String(log?.atMs ?? 0),
      ...reads.map(([, v]) => String(v)), ...writes.map(([, v]) => v === undefined ? '' : encodeValue(v))]
    const out = await this.redis.eval(COMMIT, keys.length, ...keys, ...args) as [string, string?]
    if (out[0] === 'logged') return { kind: 'logged', resultJson: out[1] ?? '{}' }
    return out[0] === 'conflict' ? { kind: 'conflict' } : { kind: 'committed' }
  }

  /** Entries logged before this store had an age index are not in it: they are never pruned (delete `log:*` by hand). */
  async pruneLog (beforeMs: number): Promise<number> {
    let total = 0
    for (;;) {
      const n = Number(await this.redis.eval(PRUNE_LOG, 1, `${this.prefix}logat`, beforeMs))
      total += n
      if (n < 1000) return total
    }
  }

  async close (): Promise<void> {
    this.redis.disconnect()
  }

  private stateKey (key: string): string {
    return `${this.prefix}state:${key}`
  }

  private logKey (eventId: string, key: string): string {
    return `${this.prefix}log:${eventId.length}:${eventId}:${key}`
  }
}

/** The effect log and state in Redis: each commit is one Lua script, so check and writes are atomic. */
export function redisEffectStore (redis: RedisClient, prefix: string, opts: EffectStoreOptions = {}): OccEffectStore {
  return new OccEffectStore(new RedisBackend(redis, prefix), 'redis', Math.random, opts)
}
