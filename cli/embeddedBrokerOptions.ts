import { randomBytes } from 'node:crypto'
import { resolve } from 'node:path'
import type { Config } from '../core/config/schema.js'
import { IotlessError } from '../core/errors.js'
import type { Logger } from '../core/log.js'
import type { EmbeddedBrokerOptions } from '../adapters/broker/embeddedBroker.js'
import { templateToFilter } from '../adapters/broker/topicRules.js'
import { parseUsersFile } from '../adapters/broker/usersFile.js'
import type { BrokerSecurity } from '../adapters/ingress/mqttAdapter.js'
import { readConfigFile } from './readConfigFile.js'

/** Room for a topic of up to 65535 bytes, its length, a packet id and the fixed header above the payload limit. */
export const PACKET_HEADROOM_BYTES = 65_600

/**
 * The embedded broker's options from the `broker:` section, and the adapter's credential for it. The adapter is
 * broker.username with its password (passwordEnv / passwordFile); without one, a credential made up for this
 * run, so that nobody else can connect with the adapter's client id and take over its session.
 */
export function embeddedBrokerOptions (config: Readonly<Config>, baseDir: string, env: Readonly<Record<string, string | undefined>>, adapterSecurity: BrokerSecurity, log: Logger): { options: EmbeddedBrokerOptions; adapterSecurity: BrokerSecurity } {
  const b = config.broker
  let adapter: { username: string; password: string }
  if (adapterSecurity.username !== undefined) {
    if (adapterSecurity.password === undefined) {
      throw new IotlessError('CONFIG_INVALID', 'broker.username: the embedded broker checks the adapter\'s password too; set broker.passwordEnv or broker.passwordFile')
    }
    adapter = { username: adapterSecurity.username, password: adapterSecurity.password }
  } else {
    adapter = { username: b.clientId, password: randomBytes(32).toString('base64url') }
  }
  let users = new Map<string, string>()
  let where: string | undefined
  if (b.usersEnv !== undefined) {
    where = `broker.usersEnv ${b.usersEnv}`
    const text = env[b.usersEnv]
    if (text === undefined || text.trim() === '') throw new IotlessError('SECRET_MISSING', `broker.usersEnv: the environment variable ${b.usersEnv} is not set or empty`)
    users = new Map(parseUsersFile(text, where))
  } else if (b.usersFile !== undefined) {
    where = `broker.usersFile ${resolve(baseDir, b.usersFile)}`
    users = new Map(parseUsersFile(readConfigFile(b.usersFile, baseDir, 'broker.usersFile').toString('utf8'), where))
  }
  if (where !== undefined && users.has(adapter.username)) {
    throw new IotlessError('BROKER_USERS_INVALID', `${where}: ${adapter.username} is the adapter's username (broker.username, else broker.clientId); give the device another name`)
  }
  // Only the adapter publishes where replies and dead letters go: a device must not fake an alert.
  const templates = [
    ...config.routes.flatMap((r) => [r.reply, r.deadLetter]),
    config.adapter.deadLetterTopic
  ].filter((t): t is string => t !== undefined && t !== '')
  const tls = b.tls === undefined
    ? undefined
    : {
        host: b.tls.host ?? b.host,
        port: b.tls.port,
        cert: readConfigFile(b.tls.certFile, baseDir, 'broker.tls.certFile'),
        key: readConfigFile(b.tls.keyFile, baseDir, 'broker.tls.keyFile'),
        clientCa: b.tls.clientCaFile === undefined ? undefined : readConfigFile(b.tls.clientCaFile, baseDir, 'broker.tls.clientCaFile')
      }
  return {
    options: {
      host: b.host,
      port: b.port,
      log,
      auth: { users, allowAnonymous: b.allowAnonymous, adapter },
      acl: {
        rules: b.acl,
        adapterOnly: [...new Set(templates.map(templateToFilter))],
        adapterClientId: b.clientId,
        bindClientIdToUser: b.bindClientIdToUser
      },
      tls,
      maxPacketBytes: b.maxPacketBytes ?? config.adapter.maxPayloadBytes + PACKET_HEADROOM_BYTES,
      loginLimits: b.loginLimits
    },
    adapterSecurity: { ...adapterSecurity, username: adapter.username, password: adapter.password }
  }
}
