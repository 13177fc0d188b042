/**
 * The handler's own time from a W3C Server-Timing header (`handler;dur=12.5`, as functions/sdk/knativeServer.ts
 * sets it), in ms; undefined when absent or malformed. Other metrics in the header are ignored.
 */
export function handlerMsFromServerTiming (value: string | string[] | undefined): number | undefined {
  const v = Array.isArray(value) ? value.join(',') : value
  if (v === undefined || v.length > 2000) return undefined
  for (const metric of v.split(',')) {
    const parts = metric.split(';').map((p) => p.trim())
    if (parts[0] !== 'handler') continue
    for (const p of parts.slice(1)) {
      const m = /^dur=("?)(\d+(?:\.\d+)?)\1$/.exec(p)
      if (m !== null) {
        const ms = Number(m[2])
        return Number.isFinite(ms) ? ms : undefined
      }
    }
  }
  return undefined
}
