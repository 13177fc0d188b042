import http from 'node:http'
import type { Session } from 'node:inspector'

/**
 * The profiling server, Knative's port 8008 (knative/pkg profiling, turned on by `runtime-profiling: enabled`
 * in config-observability, or ENABLE_PROFILING before 1.19). The queue-proxy serves Go's net/http/pprof there;
 * a Node process has no pprof, so the same paths give V8's formats instead, taken in-process through
 * node:inspector (no inspector port is opened, and node:inspector is loaded only when this server starts):
 *
 *   GET /debug/pprof/                    an index of what is here
 *   GET /debug/pprof/profile?seconds=N   a CPU profile over N seconds (default 30, as Go's), V8 .cpuprofile JSON
 *                                        (open it in Chrome DevTools or speedscope; `go tool pprof` cannot read it)
 *   GET /debug/pprof/heap                a V8 heap snapshot (.heapsnapshot JSON, for DevTools' Memory tab); taking
 *                                        it stops the proxy for as long as the walk takes (about a second per 100 MiB)
 *
 * Other pprof paths (goroutine, allocs, block, mutex, trace, ...) answer 404. One CPU profile at a time, as in Go.
 */
export async function createProfilingServer (): Promise<http.Server> {
  const inspector = await import('node:inspector')
  let session: Session | null = null
  const open = (): Session => {
    if (session === null) {
      session = new inspector.Session()
      session.connect()
    }
    return session
  }
  const post = <T>(s: Session, method: string, params?: object): Promise<T> => new Promise((resolve, reject) => {
    s.post(method, params ?? {}, (err, res) => { if (err !== null) reject(err); else resolve(res as T) })
  })
  let profiling = false
  let snapshotting = false

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { Allow: 'GET' }).end(); return }
    if (url.pathname === '/debug/pprof/' || url.pathname === '/debug/pprof') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(
        'iotless proxy profiling (V8 formats, not pprof):\n' +
        '/debug/pprof/profile?seconds=30  CPU profile, .cpuprofile JSON\n' +
        '/debug/pprof/heap                heap snapshot, .heapsnapshot JSON\n')
      return
    }
    if (url.pathname === '/debug/pprof/profile') {
      const raw = url.searchParams.get('seconds')
      const seconds = raw === null || raw === '' ? 30 : Number(raw)
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 3600) {
        res.writeHead(400, { 'Content-Type': 'text/plain; charset=utf-8' }).end('bad seconds parameter\n')
        return
      }
      // Go: "Could not enable CPU profiling: cpu profiling already in use".
      if (profiling) { res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('Could not enable CPU profiling: cpu profiling already in use\n'); return }
      profiling = true
      const s = open()
      let gone = false
      req.socket.once('close', () => { gone = true })
      void (async () => {
        try {
          await post(s, 'Profiler.enable')
          await post(s, 'Profiler.start')
          await new Promise((resolve) => { const t = setTimeout(resolve, seconds * 1000); t.unref() })
          const { profile } = await post<{ profile: unknown }>(s, 'Profiler.stop')
          await post(s, 'Profiler.disable')
          if (gone) return
          res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Disposition': 'attachment; filename="profile.cpuprofile"' }).end(JSON.stringify(profile))
        } catch (err) {
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`profiling failed: ${(err as Error).message}\n`)
        } finally {
          profiling = false
        }
      })()
      return
    }
    if (url.pathname === '/debug/pprof/heap') {
      if (snapshotting) { res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('a heap snapshot is already being taken\n'); return }
      snapshotting = true
      const s = open()
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Disposition': 'attachment; filename="heap.heapsnapshot"' })
      const onChunk = (m: { params: { chunk: string } }): void => { res.write(m.params.chunk) }
      s.on('HeapProfiler.addHeapSnapshotChunk', onChunk)
      post(s, 'HeapProfiler.takeHeapSnapshot', { reportProgress: false }).then(() => res.end(), () => res.destroy()).finally(() => {
        s.off('HeapProfiler.addHeapSnapshotChunk', onChunk)
        snapshotting = false
      })
      return
    }
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not here: this is a Node process; see /debug/pprof/\n')
  })
  server.on('close', () => { session?.disconnect(); session = null })
  return server
}
