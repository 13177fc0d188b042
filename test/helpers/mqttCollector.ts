import mqtt, { type MqttClient } from 'mqtt'

export interface Received { topic: string; payload: Buffer; properties?: mqtt.IPublishPacket['properties'] }

/** A real MQTT subscriber that keeps what it receives, for end-to-end assertions. */
export async function collector (url: string, filter: string, protocolVersion: 4 | 5 = 4): Promise<{ client: MqttClient; received: Received[]; close: () => Promise<void> }> {
  const client = await mqtt.connectAsync(url, { protocolVersion, reconnectPeriod: 0, clientId: `collector-${process.pid}-${Math.random().toString(16).slice(2)}` })
  const received: Received[] = []
  client.on('message', (topic, payload, packet) => { received.push({ topic, payload, properties: packet.properties }) })
  await client.subscribeAsync(filter, { qos: 1 })
  return { client, received, close: () => client.endAsync(true) }
}

export async function publisher (url: string, protocolVersion: 4 | 5 = 4): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion, reconnectPeriod: 0, clientId: `pub-${process.pid}-${Math.random().toString(16).slice(2)}` })
}
