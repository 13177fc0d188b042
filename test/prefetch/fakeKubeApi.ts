import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import type { KubeConnection } from '../../prefetch/actuators/kubeApi.js'
import { repoRoot } from '../helpers/paths.js'

export interface RecordedRequest { method: string; path: string; contentType: string | undefined; authorization: string | undefined; body: unknown }

type Json = null | boolean | number | string | Json[] | { [k: string]: Json }

export function fixture (name: string): Record<string, Json> {
  return JSON.parse(readFileSync(resolve(repoRoot, 'test/fixtures/k8s-api', name), 'utf8')) as Record<string, Json>
}

/** RFC 7386 JSON merge patch. */
export function mergePatch (target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch
  const out: Record<string, Json> = target !== null && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {}
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k]
    else out[k] = mergePatch(out[k] ?? null, v)
  }
  return out
}

function notFound (path: string): Record<string, Json> {
  const s = fixture('status-not-found.json')
  const name = path.split('/').pop() ?? ''
  return JSON.parse(JSON.stringify(s).replaceAll('NAME', name)) as Record<string, Json>
}

/**
 * A real HTTP server on port 0 that answers like the Kubernetes API server for the objects it holds (GET, and
 * PATCH with application/merge-patch+json; other patch types get 415 as the API server gives for an unsupported
 * media type) and records every request.
 */
export async function startFakeKubeApi (objects: Record<string, Record<string, Json>>): Promise<{ server: Server; url: string; requests: RecordedRequest[]; objects: Record<string, Json>; connection: KubeConnection; close: () => Promise<void> }> {
  const store: Record<string, Json> = { ...objects }
  const requests: RecordedRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      const text = Buffer.concat(chunks).toString('utf8')
      let body: unknown
      try { body = text === '' ? undefined : JSON.parse(text) } catch { body = text }
      const contentType = req.headers['content-type']
      requests.push({ method: req.method ?? '', path, contentType, authorization: req.headers.authorization, body })
      const send = (status: number, obj: unknown): void => {
        const out = JSON.stringify(obj)
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
        res.end(out)
      }
      const current = store[path]
      if (current === undefined) { send(404, notFound(path)); return }
      if (req.method === 'GET') { send(200, current); return }
      if (req.method === 'PATCH') {
        if (contentType !== 'application/merge-patch+json') {
          send(415, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got ${String(contentType)})`, reason: 'UnsupportedMediaType', code: 415 })
          return
        }
        store[path] = mergePatch(current, body as Json)
        send(200, store[path])
        return
      }
      send(405, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'MethodNotAllowed', code: 405 })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    server,
    url,
    requests,
    objects: store,
    connection: { server: url, token: 'test-token' },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) })
  }
}

/** (apiGroup, resource, verb) of a recorded request, as RBAC sees it. */
export function rbacOf (r: RecordedRequest): { apiGroup: string; resource: string; verb: string } {
  const p = r.path.split('/').filter((s) => s !== '')
  let apiGroup: string
  let rest: string[]
  if (p[0] === 'api') { apiGroup = ''; rest = p.slice(2) } else { apiGroup = p[1] ?? '?'; rest = p.slice(3) }
  // rest: namespaces/<ns>/<resource>/<name> or namespaces/<name> (the namespace itself)
  let resource: string
  let named: boolean
  if (rest[0] === 'namespaces' && rest.length >= 3) { resource = rest[2] ?? '?'; named = rest.length >= 4 } else { resource = rest[0] ?? '?'; named = rest.length >= 2 }
  const verb = r.method === 'GET' ? (named ? 'get' : 'list') : r.method === 'PATCH' ? 'patch' : r.method === 'PUT' ? 'update' : r.method === 'POST' ? 'create' : r.method === 'DELETE' ? 'delete' : r.method.toLowerCase()
  return { apiGroup, resource, verb }
}
