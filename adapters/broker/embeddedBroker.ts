import { createHash, timingSafeEqual } from 'node:crypto'
import { createServer, type Server, type Socket } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes'
import { IotlessError } from '../../core/errors.js'
import { listen } from '../../core/listen.js'
import type { Logger } from '../../core/log.js'
import { BrokerAcl, type AclPolicy, type ClientIdentity } from './brokerAcl.js'
import { isLoopbackHost } from '../../core/isLoopbackHost.js'
import { MeteredConnection } from './meteredConnection.js'
import { DEFAULT_LOGIN_LIMITS, LoginThrottle, type LoginLimits } from './loginThrottle.js'
import { verifyPassword } from './passwordHash.js'
import { topicFilterProblem, topicNameProblem } from './topicRules.js'
import type { Users } from './usersFile.js'

export interface EmbeddedBrokerAuth {
  /** Device (and other) users: username -> scrypt hash, from broker.usersFile. */
  readonly users: Users
  /**
   * Clients without a username. Unset: allowed when there are no users and every listener is on loopback.
   * Beyond loopback without users, only an explicit `true` lets the broker start (BROKER_AUTH_REQUIRED).
   */
  readonly allowAnonymous?: boolean | undefined
  /** The adapter's own credential (broker.username and its password, or one made up for this run). */
  readonly adapter?: { readonly username: string; readonly password: string } | undefined
}

export interface EmbeddedBrokerTls {
  readonly host: string
  readonly port: number
  readonly cert: Buffer
  readonly key: Buffer
  /** CA of client certificates: when given, a client must present a certificate it signed (mutual TLS). */
  readonly clientCa?: Buffer | undefined
}

export interface EmbeddedBrokerOptions {
  host: string
  port: number
  log: Logger
  auth?: EmbeddedBrokerAuth
  acl?: Omit<AclPolicy, 'rules'> & Partial<Pick<AclPolicy, 'rules'>>
  tls?: EmbeddedBrokerTls | undefined
  /** Largest MQTT packet a client may send, fixed header included; a bigger one disconnects that client. */
  maxPacketBytes?: number
  /** TCP_NODELAY on accepted sockets (default true): without it Nagle plus delayed ACK add ~40 ms to a reply. */
  noDelay?: boolean
  /** Bounds on password checks (broker.loginLimits; adapters/broker/loginThrottle.ts). */
  loginLimits?: LoginLimits
}

export interface EmbeddedBroker {
  readonly aedes: Aedes
  readonly port: number
  readonly host: string
  /** The TLS listener's port, when there is one. */
  readonly tlsPort: number | undefined
  /** mqtt:// URL clients on this machine use. */
  readonly url: string
  /**
   * Refuses new PUBLISHes from every client but the adapter (whose replies must still go out).
   * A refused QoS 1/2 publisher gets no PUBACK and is disconnected, so it keeps the message and sends it again later.
   */
  stopAcceptingPublishes(exceptClientId: string): void
  close(): Promise<void>
}

/** 256 MiB - 1 + 5: the largest packet MQTT can frame, what aedes accepts without a cap. */
const MQTT_MAX_PACKET_BYTES = 268_435_460

function sameSecret (a: string, b: string): boolean {
  // Digests first: timingSafeEqual needs equal lengths, and the length of the secret must not leak either.
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

/** An unknown user's password is still checked against this, so timing does not tell which usernames exist. */
const DUMMY_HASH = `$scrypt$N=16384,r=8,p=1$${Buffer.alloc(16).toString('base64')}$${Buffer.alloc(32).toString('base64')}`

/** CONNACK return codes of MQTT 3.1.1 section 3.2.2.3: 2 identifier rejected, 3 server unavailable, 4 bad username or password, 5 not authorized. */
function refusal (message: string, returnCode: 2 | 3 | 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

/**
 * aedes 1.x (MQTT 3.1.1) on a TCP port (and optionally TLS), for `iotless up` without broker.url. aedes keeps
 * sessions in memory, so its queue does not survive a restart: for that, use an external broker (broker.url).
 * What aedes does not do itself is done here: users and ACLs, topic checks before aedes sees a topic, a
 * packet-size cap before its parser buffers, TCP_NODELAY.
 */
export async function startEmbeddedBroker (opts: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const users: Users = opts.auth?.users ?? new Map()
  const allowAnonymousSetting = opts.auth?.allowAnonymous
  const beyondLoopback = [opts.host, ...(opts.tls !== undefined ? [opts.tls.host] : [])].filter((h) => !isLoopbackHost(h))
  if (beyondLoopback.length > 0 && users.size === 0 && allowAnonymousSetting !== true) {
    throw new IotlessError('BROKER_AUTH_REQUIRED',
      `the embedded broker would listen on ${beyondLoopback.join(' and ')}, beyond loopback, with no users: anyone could connect, read every topic and publish fake replies. ` +
      'Set broker.usersFile (create it with `iotless broker passwd FILE USER`), or broker.allowAnonymous: true to let anyone in on purpose')
  }
  const allowAnonymous = users.size === 0 ? allowAnonymousSetting !== false : allowAnonymousSetting === true
  const adapterCred = opts.auth?.adapter
  const acl = new BrokerAcl({
    rules: opts.acl?.rules ?? [],
    adapterOnly: opts.acl?.adapterOnly ?? [],
    adapterClientId: opts.acl?.adapterClientId ?? '',
    bindClientIdToUser: opts.acl?.bindClientIdToUser ?? false
  })
  const adapterClientId = opts.acl?.adapterClientId ?? ''
  const maxPacketBytes = opts.maxPacketBytes ?? MQTT_MAX_PACKET_BYTES
  const identities = new WeakMap<Client, ClientIdentity>()
  const anonymous = (clientId: string): ClientIdentity => ({ username: undefined, clientId, isAdapter: false })
  // Before authentication (and with no auth configured) a client is anonymous, or the adapter when nobody
  // configured a credential for it.
  const identityOf = (client: Client | null): ClientIdentity => (client !== null ? identities.get(client) : undefined) ?? anonymous(client?.id ?? '')

  const loginLimits = opts.loginLimits ?? DEFAULT_LOGIN_LIMITS
  const throttle = new LoginThrottle(loginLimits)
  let busyLogged = false
  let accepting = true
  let exceptClientId = ''
  const options: AedesOptions = {
    authenticate (client, username, password, done) {
      const clientId = client.id
      const remoteAddress = client.conn instanceof MeteredConnection ? client.conn.remoteAddress : undefined
      const finish = (who: ClientIdentity | undefined, refused?: AuthenticateError, quiet = false): void => {
        if (who !== undefined) {
          const problem = acl.connectProblem(who)
          if (problem === undefined) {
            identities.set(client, who)
            // The cap is for devices: the adapter's replies are whatever its functions return.
            if (who.isAdapter && client.conn instanceof MeteredConnection) client.conn.setMaxPacketBytes(MQTT_MAX_PACKET_BYTES)
            done(null, true)
            return
          }
          refused = refusal(problem, 2)
        }
        if (!quiet) opts.log.info({ clientId, username, remoteAddress, err: refused?.message }, 'mqtt connect refused')
        done(refused ?? refusal('not authorized', 5), false)
      }
      if (username === undefined || username === null) {
        if (adapterCred === undefined && clientId === adapterClientId) { finish({ username: undefined, clientId, isAdapter: true }); return }
        if (allowAnonymous) finish(anonymous(clientId))
        else finish(undefined, refusal('a username and password are required (broker.usersFile)', 5))
        return
      }
      const pw = password?.toString('utf8') ?? ''
      if (adapterCred !== undefined && username === adapterCred.username) {
        if (sameSecret(pw, adapterCred.password)) finish({ username, clientId, isAdapter: true })
        else finish(undefined, refusal('bad username or password', 4))
        return
      }
      const hash = users.get(username)
      const address = remoteAddress ?? ''
      const verdict = throttle.admit(address)
      if (!verdict.ok) {
        // Refused before any scrypt derivation; logged when the lockout starts, not for every try.
        if (verdict.reason === 'locked-out') finish(undefined, refusal(`too many failed logins from this address: try again in ${Math.ceil(verdict.retryInMs / 1000)} s`, 3), true)
        else finish(undefined, refusal('too many logins being checked at once: try again later', 3), true)
        if (verdict.reason === 'busy' && !busyLogged) {
          busyLogged = true
          opts.log.warn({ concurrentChecks: loginLimits.concurrentChecks, queuedChecks: loginLimits.queuedChecks }, 'mqtt logins refused: too many password checks waiting (broker.loginLimits); logged once')
        }
        return
      }
      throttle.run(() => verifyPassword(pw, hash ?? DUMMY_HASH)).then((ok) => {
        if (ok && hash !== undefined) {
          throttle.succeeded(address)
          finish({ username, clientId, isAdapter: false })
          return
        }
        const lockMs = throttle.failed(address)
        if (lockMs > 0) opts.log.warn({ remoteAddress, username, lockoutMs: lockMs }, 'mqtt logins from this address refused for a while: too many failed logins in a row (broker.loginLimits)')
        finish(undefined, refusal('bad username or password', 4))
      }, (err: Error) => finish(undefined, refusal(`password check failed: ${err.message}`, 3)))
    },
    authorizePublish (client, packet, callback) {
      // Topic names are checked here, for every client, before aedes routes them (wills come here too).
      const bad = topicNameProblem(packet.topic)
      if (bad !== undefined) { callback(new Error(`${bad}: ${JSON.stringify(packet.topic.slice(0, 200))}`)); return }
      const who = identityOf(client)
      if (!accepting && !who.isAdapter && !(adapterCred === undefined && who.clientId === exceptClientId)) { callback(new Error('broker is shutting down')); return }
      const problem = acl.publishProblem(who, packet.topic)
      if (problem !== undefined) {
        opts.log.info({ clientId: who.clientId, username: who.username, topic: packet.topic }, 'mqtt publish refused')
        callback(new Error(problem))
        return
      }
      callback(null)
    },
    authorizeSubscribe (client, sub, callback) {
      const bad = topicFilterProblem(sub.topic)
      if (bad !== undefined) { callback(new Error(bad)); return }
      const who = identityOf(client)
      if (!acl.maySubscribe(who, sub.topic)) {
        opts.log.info({ clientId: who.clientId, username: who.username, filter: sub.topic }, 'mqtt subscribe refused')
        callback(null, null) // SUBACK 0x80: refused, the connection stays [MQTT-3.9.3]
        return
      }
      callback(null, sub)
    }
  }
  const aedes = await Aedes.createBroker(options)
  const sockets = new Set<Socket>()
  const noDelay = opts.noDelay ?? true
  const accept = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    if (noDelay) socket.setNoDelay(true)
    const conn = new MeteredConnection(socket, maxPacketBytes, (verdict) => {
      opts.log.warn({ remoteAddress: socket.remoteAddress, ...verdict, maxPacketBytes }, verdict.reason === 'too-large'
        ? 'mqtt client sent a packet over broker.maxPacketBytes: disconnected'
        : 'mqtt client sent a malformed packet: disconnected')
    })
    aedes.handle(conn)
  }
  const server: Server = createServer(accept)
  const tlsServer = opts.tls === undefined
    ? undefined
    : createTlsServer({
      cert: opts.tls.cert,
      key: opts.tls.key,
      ...(opts.tls.clientCa !== undefined ? { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {})
    }, accept)
  tlsServer?.on('tlsClientError', (err) => { opts.log.debug({ err: err.message }, 'mqtts handshake failed') })
  aedes.on('clientError', (client, err) => { opts.log.debug({ client: client.id, err: err.message }, 'mqtt client error') })
  aedes.on('connectionError', (_client, err) => { opts.log.debug({ err: err.message }, 'mqtt connection error') })
  const closeAll = async (): Promise<void> => {
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    for (const s of sockets) s.destroy()
    await Promise.all([server, tlsServer].map((s) => s === undefined || !s.listening ? undefined : new Promise<void>((resolve) => s.close(() => resolve()))))
  }
  let port: number
  let tlsPort: number | undefined
  try {
    port = await listen(server, opts.port, opts.host, {
      setting: 'broker.port',
      envVar: 'IOTLESS_BROKER_PORT',
      extra: `Another MQTT broker (Mosquitto listens on 1883 by default) may hold it; to use that broker instead of the embedded one, set broker.url: mqtt://127.0.0.1:${opts.port}.`
    })
    if (tlsServer !== undefined && opts.tls !== undefined) {
      tlsPort = await listen(tlsServer, opts.tls.port, opts.tls.host, { setting: 'broker.tls.port', envVar: 'IOTLESS_BROKER_TLS_PORT' })
    }
  } catch (err) {
    await closeAll()
    throw err
  }
  const connectHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host
  return {
    aedes,
    port,
    host: opts.host,
    tlsPort,
    url: `mqtt://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${port}`,
    stopAcceptingPublishes (clientId: string) {
      // The adapter is known by its credential; by its client id only when it has none (no auth configured).
      accepting = false
      exceptClientId = clientId
    },
    close: closeAll
  }
}
