import type { ProxyContext } from '../proxyContext.js'

// Bodies as Knative writes them (see clientConnection.ts).
const BODY_SHUTTING_DOWN = 'shutting down\n'

/** What the probe answer needs of an exchange: a local answer, and whether the stream can still take one. */
export interface ProbeAnswer {
  /** Answers the stream (`networkHash`: echoed as K-Network-Hash). */
  respond: (status: number, body: string, networkHash?: string) => void
  /** The stream is closed or already answered. */
  answered: () => boolean
}

/** What the drain handler reads of a request's headers. */
export interface ProbeInfo { healthCheck: boolean; networkProbe: string; networkHash: string }

/** A probe is answered by the proxy itself, neither counted nor sent to the user container. */
export function isProbe (info: ProbeInfo): boolean {
  return info.healthCheck || info.networkProbe === 'probe'
}

/**
 * knative/pkg network/handlers/drain.go, for an HTTP/2 stream: health checks first (the queue's own readiness,
 * K-Network-Probe: queue), then K-Network-Probe: probe (echoes K-Network-Hash); 503 while draining.
 */
export function answerProbe (ctx: ProxyContext, info: ProbeInfo, a: ProbeAnswer): void {
  if (info.healthCheck) {
    if (ctx.drainer.draining) { a.respond(503, BODY_SHUTTING_DOWN); return }
    if (info.networkProbe !== 'queue') { a.respond(400, `unexpected probe header value: ${info.networkProbe}\n`); return }
    ctx.prober.probe().then((ok) => {
      if (a.answered()) return
      if (ctx.drainer.draining) a.respond(503, BODY_SHUTTING_DOWN)
      else if (ok) a.respond(200, 'queue')
      else a.respond(503, '')
    }, () => { if (!a.answered()) a.respond(503, '') })
    return
  }
  if (ctx.drainer.draining) a.respond(503, BODY_SHUTTING_DOWN)
  else if (info.networkHash === '') a.respond(400, 'a probe request must contain a non-empty "K-Network-Hash" header\n')
  else a.respond(200, '', info.networkHash)
}
