import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Config } from '../core/config/schema.js'
import { IotlessError } from '../core/errors.js'
import type { BrokerSecurity } from '../adapters/mqtt/mqttAdapter.js'

function readPem (file: string, baseDir: string, field: string): Buffer {
  const path = resolve(baseDir, file)
  try {
    return readFileSync(path)
  } catch (err) {
    throw new IotlessError('CONFIG_INVALID', `broker.${field}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
}

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
    const value = readPem(broker.passwordFile, baseDir, 'passwordFile').toString('utf8').trim()
    if (value === '') throw new IotlessError('CONFIG_INVALID', `broker.passwordFile: ${resolve(baseDir, broker.passwordFile)} is empty`)
    sec.password = value
  }
  if (broker.caFile !== undefined) sec.ca = readPem(broker.caFile, baseDir, 'caFile')
  if (broker.certFile !== undefined) sec.cert = readPem(broker.certFile, baseDir, 'certFile')
  if (broker.keyFile !== undefined) sec.key = readPem(broker.keyFile, baseDir, 'keyFile')
  return sec
}
