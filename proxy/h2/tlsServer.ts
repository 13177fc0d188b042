import fs from 'node:fs'
import tls from 'node:tls'
import type { QueueServer } from '../queueServer.js'
import { CertWatcher, type KeyPair } from './certWatcher.js'
import type { H2Front } from './h2Server.js'
import type { TlsSettings } from './tlsEnv.js'

/** Knative turns the TLS port on when both files exist at start (sharedmain/main.go: exists(certPath) && exists(keyPath)). */
export function tlsFilesPresent (s: TlsSettings): boolean {
  return fs.existsSync(s.certFile) && fs.existsSync(s.keyFile)
}

export interface TlsServing {
  server: tls.Server
  watcher: CertWatcher
  close (): void
}

/**
 * The main handler over TLS on QUEUE_SERVING_TLS_PORT (system-internal TLS): ALPN picks h2 or http/1.1,
 * as Go's ListenAndServeTLS does; h2 connections go to the same H2Front as h2c ones, HTTP/1.1 ones to the
 * serving port's QueueServer (serveHttp1, read through 'data' events: a TLS socket is not adopted), so the
 * breaker, the Stat, the timeouts and the drain treat both ports as one. The certificate is the watcher's
 * current one; a rotation replaces the secure context for new handshakes, and connections already up keep
 * theirs. The server is returned unbound: startQueueProxy listens on it with the other listeners
 * (core/listen.ts), after the certificate loaded.
 */
export function createTlsServing (opts: {
  settings: TlsSettings
  queue: QueueServer
  h2: H2Front
  handshakeTimeoutMs: number
  log: (msg: string, fields?: Record<string, unknown>) => void
}): TlsServing {
  const s = opts.settings
  const ctxOptions = (pair: KeyPair): tls.SecureContextOptions => ({
    cert: pair.cert,
    key: pair.key,
    minVersion: s.minVersion,
    ...(s.maxVersion !== undefined ? { maxVersion: s.maxVersion } : {}),
    ...(s.ciphers !== undefined ? { ciphers: s.ciphers } : {}),
    ...(s.curves !== undefined ? { ecdhCurve: s.curves } : {})
  })
  let server: tls.Server | null = null
  // Throws PROXY_TLS_CERT_INVALID, naming the file, when the first load fails.
  const watcher = new CertWatcher({
    certFile: s.certFile,
    keyFile: s.keyFile,
    reloadMs: s.reloadMs,
    log: opts.log,
    onChange: (pair) => { server?.setSecureContext(ctxOptions(pair)) }
  })
  const srv = tls.createServer({
    ...ctxOptions(watcher.current),
    ALPNProtocols: ['h2', 'http/1.1'],
    handshakeTimeout: opts.handshakeTimeoutMs,
    allowHalfOpen: true,
    noDelay: true
  }, (socket) => {
    if (socket.alpnProtocol === 'h2') { opts.h2.handle(socket, null); return }
    opts.queue.serveHttp1(socket, { adopt: false })
  })
  srv.on('tlsClientError', () => { /* a failed handshake closes that connection only */ })
  server = srv
  return {
    server: srv,
    watcher,
    close: () => { watcher.stop(); srv.close() }
  }
}
