import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Registry } from 'prom-client'
import type { Clock, TimerHandle } from '../core/clock.js'
import type { RecentTraces } from '../core/tracing/recentTraces.js'
import { buildSnapshot, totalsOf, type PoolView, type PrefetchView, type StatusSnapshot, type Totals } from './statusSnapshot.js'

export interface DashboardOptions {
  registry: Registry
  clock: Clock
  traces: RecentTraces | undefined
  /** Route label -> where it sends. */
  routeTargets: ReadonlyMap<string, { target: string; function: string }>
  pools: () => PoolView[]
  prefetch?: (() => PrefetchView[]) | undefined
  /** How often the picture is rebuilt and pushed to the open pages. */
  intervalMs: number
  /** Rates are measured over this many ms (the oldest sample kept). */
  rateWindowMs: number
  /** Traces put in each picture. */
  traceCount: number
}

/** The page's files, served from the package (dashboard/assets), read once: nothing is fetched at run time. */
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' }
}

/** dashboard/assets, from dist/dashboard/ (compiled) or dashboard/ (the sources). */
function assetsDir (): string {
  const here = dirname(fileURLToPath(import.meta.url))
  return basename(dirname(here)) === 'dist' ? join(here, '..', '..', 'dashboard', 'assets') : join(here, 'assets')
}

/**
 * The live dashboard and its JSON: GET / (the page), GET /api/status (the picture, also read by `iotless
 * status`), GET /api/events (Server-Sent Events, one `status` event per interval). Mounted on the metrics
 * server, so it binds where /metrics binds (loopback by default).
 */
export class DashboardService {
  readonly #o: DashboardOptions
  readonly #history: Totals[] = []
  readonly #clients = new Set<ServerResponse>()
  readonly #assets = new Map<string, Buffer>()
  #latest: StatusSnapshot | undefined
  #timer: TimerHandle | undefined
  #closed = false

  constructor (opts: DashboardOptions) {
    this.#o = opts
    const dir = assetsDir()
    for (const a of Object.values(ASSETS)) this.#assets.set(a.file, readFileSync(join(dir, a.file)))
  }

  start (): void {
    void this.sample()
    this.#schedule()
  }

  #schedule (): void {
    if (this.#closed) return
    this.#timer = this.#o.clock.setTimeout(() => {
      void this.sample().then((snap) => { this.#broadcast(snap) }, () => {}).finally(() => { this.#schedule() })
    }, this.#o.intervalMs)
  }

  /** Builds the picture now; rates over the window of samples kept. */
  async sample (): Promise<StatusSnapshot> {
    const metrics = await this.#o.registry.getMetricsAsJSON()
    const now = totalsOf(metrics, this.#o.clock.now())
    while (this.#history.length > 1 && now.atMs - (this.#history[1] as Totals).atMs >= this.#o.rateWindowMs) this.#history.shift()
    const before = this.#history[0]
    this.#history.push(now)
    const snap = buildSnapshot({
      metrics,
      now,
      before,
      routeTargets: this.#o.routeTargets,
      pools: this.#o.pools(),
      prefetch: this.#o.prefetch?.(),
      traces: this.#o.traces?.recent(this.#o.traceCount) ?? []
    })
    this.#latest = snap
    return snap
  }

  #broadcast (snap: StatusSnapshot): void {
    if (this.#clients.size === 0) return
    const frame = `event: status\ndata: ${JSON.stringify(snap)}\n\n`
    for (const res of this.#clients) res.write(frame)
  }

  /** Serves the request if it is one of the dashboard's; false when it is not. */
  handle (req: IncomingMessage, res: ServerResponse): boolean {
    if (req.method !== 'GET' || req.url === undefined) return false
    const path = req.url.split('?')[0] as string
    const asset = ASSETS[path]
    if (asset !== undefined) {
      res.writeHead(200, {
        'content-type': asset.type,
        // The page runs only its own script; a topic or payload can never become markup or code.
        'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:",
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-cache'
      })
      res.end(this.#assets.get(asset.file))
      return true
    }
    if (path === '/api/status') {
      const send = (snap: StatusSnapshot): void => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(JSON.stringify(snap))
      }
      if (this.#latest !== undefined) send(this.#latest)
      else this.sample().then(send, (err: Error) => { res.writeHead(500, { 'content-type': 'text/plain' }).end(err.message) })
      return true
    }
    if (path === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' })
      res.write(`retry: ${Math.max(1000, this.#o.intervalMs)}\n\n`)
      if (this.#latest !== undefined) res.write(`event: status\ndata: ${JSON.stringify(this.#latest)}\n\n`)
      this.#clients.add(res)
      req.on('close', () => { this.#clients.delete(res) })
      return true
    }
    return false
  }

  close (): void {
    this.#closed = true
    this.#o.clock.clearTimeout(this.#timer)
    for (const res of this.#clients) res.end()
    this.#clients.clear()
  }
}
