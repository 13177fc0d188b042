import { createServer, type Server, type Socket } from 'node:net'
import { Aedes, type AedesOptions } from 'aedes'
import { listen } from '../../core/listen.js'
import type { Logger } from '../../core/log.js'

export interface EmbeddedBroker {
  readonly aedes: Aedes
  readonly port: number
  readonly host: string
  /** mqtt:// URL clients on this machine use. */
  readonly url: string
  /**
   * Refuses new PUBLISHes from every client but `exceptClientId` (the adapter, whose replies must still go out).
   * A refused QoS 1/2 publisher gets no PUBACK and is disconnected, so it keeps the message and sends it again later.
   */
  stopAcceptingPublishes(exceptClientId: string): void
  close(): Promise<void>
}

/**
 * aedes 1.x (MQTT 3.1.1) on a TCP port, for `iotless up` without broker.url. aedes keeps sessions in memory,
 * so its queue does not survive a restart: for that, use an external broker (broker.url).
 */
export async function startEmbeddedBroker (opts: { host: string; port: number; log: Logger }): Promise<EmbeddedBroker> {
  let accepting = true
  let allowed = ''
  const options: AedesOptions = {
    authorizePublish (client, packet, callback) {
      // aedes' own default refuses $SYS/ from clients; keep that.
      if (packet.topic.startsWith('$SYS/')) { callback(new Error('$SYS/ topics are reserved for the broker')); return }
      if (!accepting && client?.id !== allowed) { callback(new Error('broker is shutting down')); return }
      callback(null)
    }
  }
  const aedes = await Aedes.createBroker(options)
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    aedes.handle(socket)
  })
  aedes.on('clientError', (client, err) => { opts.log.debug({ client: client.id, err: err.message }, 'mqtt client error') })
  aedes.on('connectionError', (_client, err) => { opts.log.debug({ err: err.message }, 'mqtt connection error') })
  let port: number
  try {
    port = await listen(server, opts.port, opts.host, {
      setting: 'broker.port',
      envVar: 'IOTLESS_BROKER_PORT',
      extra: `Another MQTT broker (Mosquitto listens on 1883 by default) may hold it; to use that broker instead of the embedded one, set broker.url: mqtt://127.0.0.1:${opts.port}.`
    })
  } catch (err) {
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    throw err
  }
  const connectHost = opts.host === '0.0.0.0' || opts.host === '::' ? '127.0.0.1' : opts.host
  return {
    aedes,
    port,
    host: opts.host,
    url: `mqtt://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${port}`,
    stopAcceptingPublishes (exceptClientId: string) {
      accepting = false
      allowed = exceptClientId
    },
    async close () {
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
