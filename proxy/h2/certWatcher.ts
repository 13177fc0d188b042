import { createHash, createPrivateKey, X509Certificate } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { IotlessError } from '../../core/errors.js'

export interface KeyPair { cert: Buffer; key: Buffer }

/**
 * Reads and checks a certificate and its key, naming the file at fault: the certificate must parse as
 * PEM X.509, the key as a PEM private key, and the key must be the certificate's.
 */
export function loadKeyPair (certFile: string, keyFile: string): KeyPair {
  const read = (file: string): Buffer => {
    try {
      return fs.readFileSync(file)
    } catch (err) {
      throw new IotlessError('PROXY_TLS_CERT_INVALID', `cannot read ${file}: ${(err as Error).message}`)
    }
  }
  const cert = read(certFile)
  const key = read(keyFile)
  let x509: X509Certificate
  try {
    x509 = new X509Certificate(cert)
  } catch (err) {
    throw new IotlessError('PROXY_TLS_CERT_INVALID', `${certFile} is not a PEM X.509 certificate: ${(err as Error).message}`)
  }
  let pk
  try {
    pk = createPrivateKey(key)
  } catch (err) {
    throw new IotlessError('PROXY_TLS_CERT_INVALID', `${keyFile} is not a PEM private key: ${(err as Error).message}`)
  }
  if (!x509.checkPrivateKey(pk)) {
    throw new IotlessError('PROXY_TLS_CERT_INVALID', `${keyFile} is not the private key of the certificate in ${certFile}`)
  }
  return { cert, key }
}

/**
 * Keeps a certificate and key current, after serving pkg/queue/certificate/watcher.go: both files are read
 * every `reloadMs`, and when either checksum changed the pair is parsed again and handed to `onChange`.
 * A pair that fails to load on a reload is logged and the old one kept (Knative does the same); only the
 * first load is fatal. A watch on the directory (Kubernetes swaps the ..data symlink of a Secret volume)
 * triggers the same check at once, so a rotation does not wait for the next poll.
 */
export class CertWatcher {
  readonly certFile: string
  readonly keyFile: string
  current: KeyPair
  reloads = 0
  #sums: string
  #timer: NodeJS.Timeout
  #watch: fs.FSWatcher | null = null
  #debounce: NodeJS.Timeout | undefined
  #onChange: (pair: KeyPair) => void
  #log: (msg: string, fields?: Record<string, unknown>) => void

  constructor (opts: { certFile: string; keyFile: string; reloadMs: number; onChange: (pair: KeyPair) => void; log: (msg: string, fields?: Record<string, unknown>) => void }) {
    this.certFile = opts.certFile
    this.keyFile = opts.keyFile
    this.#onChange = opts.onChange
    this.#log = opts.log
    this.current = loadKeyPair(opts.certFile, opts.keyFile)
    this.#sums = this.#sum(this.current)
    this.#timer = setInterval(() => this.check(), opts.reloadMs)
    this.#timer.unref()
    try {
      this.#watch = fs.watch(path.dirname(opts.certFile), () => {
        clearTimeout(this.#debounce)
        this.#debounce = setTimeout(() => this.check(), 50)
        this.#debounce.unref()
      })
      this.#watch.on('error', () => { this.#watch?.close(); this.#watch = null })
      this.#watch.unref()
    } catch {
      this.#watch = null
    }
  }

  #sum (p: KeyPair): string {
    return createHash('sha256').update(p.cert).digest('hex') + createHash('sha256').update(p.key).digest('hex')
  }

  /** Re-reads both files; reloads when they changed and still make a valid pair. */
  check (): void {
    let cert: Buffer
    let key: Buffer
    try {
      cert = fs.readFileSync(this.certFile)
      key = fs.readFileSync(this.keyFile)
    } catch (err) {
      this.#log('certificate reload failed', { error: (err as Error).message })
      return
    }
    const sums = this.#sum({ cert, key })
    if (sums === this.#sums) return
    let pair: KeyPair
    try {
      pair = loadKeyPair(this.certFile, this.keyFile)
    } catch (err) {
      // Often a rotation caught half-written (new cert, old key): the next check picks up the pair.
      this.#log('certificate reload failed; serving the previous one', { error: (err as Error).message })
      return
    }
    this.#sums = this.#sum(pair)
    this.current = pair
    this.reloads++
    this.#onChange(pair)
    this.#log('Certificate and/or key have changed on disk and were reloaded.')
  }

  stop (): void {
    clearInterval(this.#timer)
    clearTimeout(this.#debounce)
    this.#watch?.close()
  }
}
