import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { IotlessError } from '../../core/errors.js'
import type { Logger } from '../../core/log.js'

/** TLS and credentials for the broker connection; the CLI reads the files and secrets. */
export interface BrokerSecurity {
  username?: string | undefined
  password?: string | undefined
  ca?: Buffer | undefined
  cert?: Buffer | undefined
  key?: Buffer | undefined
  rejectUnauthorized?: boolean | undefined
}

export interface MqttConnectOptions {
  url: string
  clientId: string
  protocol: 'auto' | '5' | '3.1.1'
  keepaliveSeconds: number
  connectTimeoutMs: number
  /** MQTT 5 session expiry, so the broker keeps the session (and queued messages) while the client is away. */
  sessionExpirySeconds: number
  /** MQTT 5 Receive Maximum: unacknowledged QoS 1/2 deliveries the broker may have outstanding to us. */
  receiveMaximum: number
  /**
   * MQTT 5 Maximum Packet Size: the broker must not send us a bigger packet; it drops it instead, as if
   * delivered [MQTT-3.1.2-25], so a huge message is never buffered here, nor brought back on every reconnect.
   */
  maximumPacketSize?: number | undefined
  security?: BrokerSecurity | undefined
}

/** CONNACK codes that mean "not this protocol version": 3.1.1 code 1, and MQTT 5 reason 0x84 (132). */
function isProtocolRefusal (err: unknown): boolean {
  const code = (err as { code?: unknown }).code
  return code === 1 || code === 132 || /protocol version/i.test((err as Error).message ?? '')
}

/** The broker URL without credentials, for logs and the CloudEvents source. */
export function redactUrl (url: string): string {
  try {
    const u = new URL(url)
    u.username = ''
    u.password = ''
    return u.toString().replace(/\/$/, '')
  } catch {
    return url
  }
}

/**
 * Connects with MQTT 5, falling back to 3.1.1 when the broker refuses the version (protocol: auto).
 * `prepare` runs on the new client before any packet arrives (hooks that must see the first PUBLISH of a
 * persistent session). Reconnects are off until the first CONNACK, then every second.
 */
export async function connectMqtt (o: MqttConnectOptions, log: Logger, prepare: (client: MqttClient, version: 4 | 5) => void): Promise<{ client: MqttClient; version: 4 | 5 }> {
  const versions: Array<4 | 5> = o.protocol === '5' ? [5] : o.protocol === '3.1.1' ? [4] : [5, 4]
  const source = `${redactUrl(o.url)}/${encodeURIComponent(o.clientId)}`
  let lastErr: unknown
  for (const version of versions) {
    try {
      const client = await connectOnce(o, version, prepare)
      client.options.reconnectPeriod = 1000
      return { client, version }
    } catch (err) {
      lastErr = err
      if (version === 5 && versions.length > 1 && isProtocolRefusal(err)) {
        log.info({ url: source }, 'broker refused MQTT 5; using MQTT 3.1.1')
        continue
      }
      break
    }
  }
  throw new IotlessError('BROKER_CONNECT_FAILED', `cannot connect to the MQTT broker at ${source}: ${(lastErr as Error)?.message ?? 'unknown error'}`, { cause: lastErr })
}

/**
 * TCP_NODELAY on the connection (and on each reconnect's new socket): an ack or reply is one small write,
 * and with Nagle it waits for the ACK of the previous one, which the peer delays by up to 40 ms.
 */
function noDelay (client: MqttClient): void {
  const stream = client.stream as { setNoDelay?: (on: boolean) => unknown } | undefined
  if (typeof stream?.setNoDelay === 'function') stream.setNoDelay(true)
}

function connectOnce (o: MqttConnectOptions, version: 4 | 5, prepare: (client: MqttClient, version: 4 | 5) => void): Promise<MqttClient> {
  const options: IClientOptions = {
    clientId: o.clientId,
    protocolVersion: version,
    clean: false,
    keepalive: o.keepaliveSeconds,
    connectTimeout: o.connectTimeoutMs,
    reconnectPeriod: 0,
    resubscribe: true
  }
  const sec = o.security
  if (sec !== undefined) {
    if (sec.username !== undefined) options.username = sec.username
    if (sec.password !== undefined) options.password = sec.password
    if (sec.ca !== undefined) options.ca = sec.ca
    if (sec.cert !== undefined) options.cert = sec.cert
    if (sec.key !== undefined) options.key = sec.key
    if (sec.rejectUnauthorized !== undefined) options.rejectUnauthorized = sec.rejectUnauthorized
  }
  if (version === 5) {
    options.properties = { sessionExpiryInterval: o.sessionExpirySeconds, receiveMaximum: o.receiveMaximum }
    if (o.maximumPacketSize !== undefined) options.properties.maximumPacketSize = o.maximumPacketSize
  }
  const client = mqtt.connect(o.url, options)
  noDelay(client)
  client.on('connect', () => { noDelay(client) })
  prepare(client, version)
  return new Promise((resolve, reject) => {
    const onConnect = (): void => { cleanup(); resolve(client) }
    const onError = (err: Error): void => { cleanup(); client.end(true); reject(err) }
    const onClose = (): void => { cleanup(); client.end(true); reject(new Error('connection closed before CONNACK')) }
    const cleanup = (): void => {
      client.off('connect', onConnect)
      client.off('error', onError)
      client.off('close', onClose)
    }
    client.once('connect', onConnect)
    client.once('error', onError)
    client.once('close', onClose)
  })
}
