import { resolve } from 'node:path'
import type { Config } from '../core/config/schema.js'
import { IotlessError } from '../core/errors.js'
import { readConfigFile } from './readConfigFile.js'
import type { BrokerSecurity } from '../adapters/ingress/mqttAdapter.js'

/** Reads the broker's TLS files and password (from the environment or a file, never from the config). */
export function readBrokerSecurity (broker: Readonly<Config['broker']>, baseDir: string, env: NodeJS.ProcessEnv): BrokerSecurity {
  const sec: BrokerSecurity = { rejectUnauthorized: broker.rejectUnauthorized }
  if (broker.username !== undefined) sec.username = broker.username
  if (broker.passwordEnv !== undefined) {
    const value = env[broker.passwordEnv]
    if (value === undefined || value === '') throw new IotlessError('CONFIG_INVALID', `broker.passwordEnv: the environment variable ${broker.passwordEnv} is not set`)
    sec.password = value
  }
  if (broker.passwordFile !== undefined) {
    const value = readConfigFile(broker.passwordFile, baseDir, 'broker.passwordFile').toString('utf8').trim()
    if (value === '') throw new IotlessError('CONFIG_INVALID', `broker.passwordFile: ${resolve(baseDir, broker.passwordFile)} is empty`)
    sec.password = value
  }
  if (broker.caFile !== undefined) sec.ca = readConfigFile(broker.caFile, baseDir, 'broker.caFile')
  if (broker.certFile !== undefined) sec.cert = readConfigFile(broker.certFile, baseDir, 'broker.certFile')
  if (broker.keyFile !== undefined) sec.key = readConfigFile(broker.keyFile, baseDir, 'broker.keyFile')
  return sec
}
