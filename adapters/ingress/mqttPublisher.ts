import type { IClientPublishOptions, MqttClient } from 'mqtt'
import type { Logger } from '../../core/log.js'
import type { OutboundPublisher } from './messagePipeline.js'
import { connectMqtt, type MqttConnectOptions } from './mqttConnect.js'

/**
 * The connection replies and dead letters leave on, apart from the ingress connection. Its PUBACKs are read
 * whatever the ingress is doing, so a message waiting for its reply's PUBACK never waits on the ingress
 * socket, however full the routes are (the deadlock of issue 11: replies' PUBACKs queued unread behind a
 * paused ingress). Persistent session (clean: false): mqtt.js sends unacknowledged publishes again after a
 * reconnect, so a reply in flight when the connection drops is not lost.
 */
export class MqttPublisher implements OutboundPublisher {
  #client: MqttClient | undefined
  #version: 4 | 5 = 4
  #stopping = false

  get protocolVersion (): 4 | 5 { return this.#version }
  get client (): MqttClient | undefined { return this.#client }

  async connect (o: MqttConnectOptions, log: Logger): Promise<void> {
    const { client, version } = await connectMqtt(o, log, () => undefined)
    this.#client = client
    this.#version = version
    client.on('error', (err) => {
      if (this.#stopping) log.debug({ err: err.message }, 'mqtt publisher error while stopping')
      else log.error({ err: err.message, clientId: o.clientId }, 'mqtt publisher connection error')
    })
    client.on('reconnect', () => { log.warn({ clientId: o.clientId }, 'reconnecting the reply connection to the MQTT broker') })
  }

  async publish (topic: string, payload: Buffer, opts: IClientPublishOptions): Promise<void> {
    const client = this.#client
    if (client === undefined) throw new Error('the reply connection is not open')
    await client.publishAsync(topic, payload, opts)
  }

  async end (): Promise<void> {
    this.#stopping = true
    await this.#client?.endAsync(false)
  }
}
