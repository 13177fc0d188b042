/**
 * Many waiters on one shared AbortSignal (the adapter's stop signal, handed to every queued message) without a
 * listener each. Node's EventTarget walks a type's whole listener list on every addEventListener (to refuse a
 * duplicate), so N waiters added one by one cost O(N^2): 20,000 messages queued behind a route's gate took
 * 0.86 s of the event loop just to register (node 20, this box), during a burst, when it matters most.
 * Here a signal gets one listener, the first time anything watches it, and the watchers sit in a Set: adding
 * and removing one is O(1). On abort they are called once each, in the order they were added.
 *
 * As with addEventListener, nothing is called for a signal that has already aborted: check `signal.aborted`
 * first. The same function watched twice is called once.
 */
const watchers = new WeakMap<AbortSignal, Set<() => void>>()

/** Calls `fn` once when `signal` aborts, unless the returned function is called first (it stops the watch). */
export function watchAbort (signal: AbortSignal, fn: () => void): () => void {
  let set = watchers.get(signal)
  if (set === undefined) {
    const s = new Set<() => void>()
    set = s
    watchers.set(signal, s)
    signal.addEventListener('abort', () => {
      watchers.delete(signal)
      for (const f of s) { s.delete(f); f() }
    }, { once: true })
  }
  const own = set
  own.add(fn)
  return () => { own.delete(fn) }
}

/** Functions watching `signal` now (tests and leak checks). */
export function abortWatchers (signal: AbortSignal): number {
  return watchers.get(signal)?.size ?? 0
}
