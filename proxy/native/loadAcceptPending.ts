import fs from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

/** Accepts up to `max` connections already queued on listening socket `fd`; returns their descriptors. */
export type AcceptPending = (fd: number, max: number) => number[]

export type AcceptPendingLoad = { ok: true, acceptPending: AcceptPending, file: string } | { ok: false, reason: string }

/** Where `npm run build` puts the compiled helper (proxy/native/buildNative.ts): beside this module in dist/. */
export const ACCEPT_PENDING_FILE = path.join(path.dirname(fileURLToPath(import.meta.url)), 'acceptPending.node')

/**
 * Loads the native accept helper (proxy/native/acceptPending.c). It is optional: on a machine where it was
 * not built (no C compiler at build time, not Linux) the reason comes back and the proxy accepts the way
 * Node does, one connection per event-loop turn.
 */
export function loadAcceptPending (file: string = ACCEPT_PENDING_FILE): AcceptPendingLoad {
  if (!fs.existsSync(file)) return { ok: false, reason: `${file} was not built (npm run build compiles it with a C compiler on Linux)` }
  try {
    const mod: unknown = createRequire(import.meta.url)(file)
    const fn = typeof mod === 'object' && mod !== null ? Reflect.get(mod, 'acceptPending') : undefined
    if (typeof fn !== 'function') return { ok: false, reason: `${file} has no acceptPending function` }
    return { ok: true, acceptPending: fn as AcceptPending, file }
  } catch (err) {
    return { ok: false, reason: `${file} did not load: ${(err as Error).message}` }
  }
}
