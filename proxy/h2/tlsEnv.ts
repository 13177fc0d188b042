import { IotlessError } from '../../core/errors.js'

/**
 * The TLS settings of the serving TLS port, from the same variables the queue-proxy reads
 * (knative/pkg network/tls DefaultConfigFromEnv("QUEUE_PROXY_")): TLS 1.3 minimum by default, "1.2" or
 * "1.3" only, cipher suites by Go's names (crypto/tls.CipherSuiteName), curves by Go's or standard names.
 * Pure: the caller passes the environment.
 */
export interface TlsSettings {
  /** Where Knative mounts the server certificate (serving pkg/queue CertDirectory). */
  certDir: string
  certFile: string
  keyFile: string
  /** How often the files are re-read for rotation (the queue-proxy's CertWatcher: 1 minute). */
  reloadMs: number
  minVersion: 'TLSv1.2' | 'TLSv1.3'
  maxVersion: 'TLSv1.2' | 'TLSv1.3' | undefined
  /** OpenSSL cipher list for TLS 1.2, or undefined for OpenSSL's defaults. As in Go, TLS 1.3 suites are not configurable. */
  ciphers: string | undefined
  /** OpenSSL group list (ecdhCurve), or undefined for the default. */
  curves: string | undefined
}

export const DEFAULT_CERT_DIR = '/var/lib/knative/certs'
/** knative/networking pkg/certificates CertName and PrivateKeyName. */
export const CERT_NAME = 'tls.crt'
export const KEY_NAME = 'tls.key'

/** Go's secure suites (tls.CipherSuites()) by Go name, as OpenSSL names. */
const CIPHERS: Record<string, string | null> = {
  TLS_AES_128_GCM_SHA256: null,
  TLS_AES_256_GCM_SHA384: null,
  TLS_CHACHA20_POLY1305_SHA256: null,
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305'
}
const TLS13_SUITES = 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256'

const CURVES: Record<string, string> = {
  CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519', 'P-256': 'P-256', 'P-384': 'P-384', 'P-521': 'P-521'
}

type Env = Readonly<Record<string, string | undefined>>

function version (env: Env, name: string): 'TLSv1.2' | 'TLSv1.3' | undefined {
  const v = env[name]
  if (v === undefined || v === '') return undefined
  if (v === '1.2') return 'TLSv1.2'
  if (v === '1.3') return 'TLSv1.3'
  throw new IotlessError('PROXY_ENV_INVALID', `${name}=${JSON.stringify(v)}: unsupported TLS version, must be "1.2" or "1.3"`)
}

function list (raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
}

export function readTlsSettings (env: Env, certDir: string, reloadMs: number): TlsSettings {
  const minVersion = version(env, 'QUEUE_PROXY_TLS_MIN_VERSION') ?? 'TLSv1.3'
  const maxVersion = version(env, 'QUEUE_PROXY_TLS_MAX_VERSION')
  if (maxVersion === 'TLSv1.2' && minVersion === 'TLSv1.3') {
    throw new IotlessError('PROXY_ENV_INVALID', 'QUEUE_PROXY_TLS_MAX_VERSION=1.2 is below QUEUE_PROXY_TLS_MIN_VERSION (default 1.3)')
  }
  let ciphers: string | undefined
  const suites = list(env.QUEUE_PROXY_TLS_CIPHER_SUITES)
  if (suites.length > 0) {
    const names: string[] = []
    for (const s of suites) {
      const o = CIPHERS[s]
      if (o === undefined) throw new IotlessError('PROXY_ENV_INVALID', `QUEUE_PROXY_TLS_CIPHER_SUITES: unknown cipher suite ${JSON.stringify(s)} (Go's names, e.g. TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256)`)
      if (o !== null) names.push(o)
    }
    ciphers = [TLS13_SUITES, ...names].join(':')
  }
  let curves: string | undefined
  const cs = list(env.QUEUE_PROXY_TLS_CURVE_PREFERENCES)
  if (cs.length > 0) {
    curves = cs.map((c) => {
      const o = CURVES[c]
      if (o === undefined) throw new IotlessError('PROXY_ENV_INVALID', `QUEUE_PROXY_TLS_CURVE_PREFERENCES: unknown or unsupported curve ${JSON.stringify(c)} (X25519, CurveP256, CurveP384, CurveP521, P-256, P-384, P-521)`)
      return o
    }).join(':')
  }
  return { certDir, certFile: `${certDir}/${CERT_NAME}`, keyFile: `${certDir}/${KEY_NAME}`, reloadMs, minVersion, maxVersion, ciphers, curves }
}
