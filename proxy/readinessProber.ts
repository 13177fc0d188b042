import net from 'node:net'
import http from 'node:http'
import https from 'node:https'
import type { ReadinessCheck, ReadinessProbeConfig } from './env.js'

/** knative/serving pkg/queue/readiness/probe.go: aggressive probing retries every 50 ms, 100 ms per try, for up to 10 s. */
export const AGGRESSIVE_RETRY_MS = 50
export const AGGRESSIVE_ATTEMPT_TIMEOUT_MS = 100
export const AGGRESSIVE_WINDOW_MS = 10_000

function tcpCheck (c: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port: c.port, host: c.host })
    const done = (ok: boolean): void => { clearTimeout(t); s.destroy(); resolve(ok) }
    const t = setTimeout(() => done(false), timeoutMs)
    s.once('connect', () => done(true))
    s.once('error', () => done(false))
  })
}

function httpCheck (c: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = {}
    for (const [k, v] of c.headers) headers[k] = v
    // pkg/queue/health/probe.go sends the kubelet's User-Agent, so apps that special-case kube-probe still do.
    if (headers['User-Agent'] === undefined) headers['User-Agent'] = 'kube-probe/iotless'
    const mod = c.scheme === 'https' ? https : http
    let settled = false
    const done = (ok: boolean): void => { if (!settled) { settled = true; clearTimeout(t); resolve(ok) } }
    const req = mod.request({ host: c.host, port: c.port, path: c.path, method: 'GET', headers, agent: false, rejectUnauthorized: false }, (res) => {
      const code = res.statusCode ?? 0
      res.resume()
      // Kubernetes and Knative count 200-399 as ready.
      done(code >= 200 && code < 400)
      req.destroy()
    })
    const t = setTimeout(() => { done(false); req.destroy() }, timeoutMs)
    req.on('error', () => done(false))
    req.end()
  })
}

/**
 * Probes the user container as SERVING_READINESS_PROBE says. Calls that overlap share one probe, as
 * Knative merges them, so the activator's 200 ms probes and the kubelet's never pile up.
 */
export class ReadinessProber {
  readonly config: ReadinessProbeConfig
  #inFlight: Promise<boolean> | undefined
  #consecutive = 0

  constructor (config: ReadinessProbeConfig) { this.config = config }

  probe (): Promise<boolean> {
    if (this.#inFlight !== undefined) return this.#inFlight
    const p = this.#run().finally(() => { this.#inFlight = undefined })
    this.#inFlight = p
    return p
  }

  async #once (timeoutMs: number): Promise<boolean> {
    const results = await Promise.all(this.config.checks.map((c) => c.kind === 'http' ? httpCheck(c, timeoutMs) : tcpCheck(c, timeoutMs)))
    return results.every(Boolean)
  }

  async #run (): Promise<boolean> {
    if (this.config.periodSeconds > 0) return this.#once(this.config.timeoutMs)
    const deadline = Date.now() + AGGRESSIVE_WINDOW_MS
    for (;;) {
      if (await this.#once(AGGRESSIVE_ATTEMPT_TIMEOUT_MS)) {
        if (++this.#consecutive >= this.config.successThreshold) return true
      } else {
        this.#consecutive = 0
      }
      if (Date.now() + AGGRESSIVE_RETRY_MS >= deadline) return false
      await new Promise((resolve) => setTimeout(resolve, AGGRESSIVE_RETRY_MS))
    }
  }
}
