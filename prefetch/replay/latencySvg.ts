import type { ReplaySample } from './runReplay.js'

function esc (s: string): string { return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') }

/**
 * Latency over time: one dot per message at (publish time, publish-to-reply latency), log-scale latency;
 * red dots waited for a cold start, blue ones did not; lost messages are grey ticks along the top; warm-up messages are drawn faint.
 */
export function latencySvg (samples: readonly ReplaySample[], title: string): string {
  const W = 900
  const H = 420
  const L = 70
  const R = 20
  const T = 40
  const B = 50
  const sent = samples.filter((s) => !Number.isNaN(s.sentMs))
  const tMax = Math.max(1, ...sent.map((s) => s.sentMs)) / 1000
  const lats = sent.flatMap((s) => (s.latencyMs === undefined ? [] : [Math.max(0.1, s.latencyMs)]))
  const yMin = 0.1
  const yMax = Math.max(10, ...lats) * 1.2
  const x = (sec: number): number => L + (sec / tMax) * (W - L - R)
  const y = (ms: number): number => T + (1 - (Math.log10(Math.max(yMin, ms)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - T - B)
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${esc(title)}</text>`)
  for (let d = Math.ceil(Math.log10(yMin)); d <= Math.floor(Math.log10(yMax)); d++) {
    const v = 10 ** d
    out.push(`<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`)
    out.push(`<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v >= 1 ? v.toFixed(0) : v.toFixed(1)} ms</text>`)
  }
  const step = tMax > 120 ? 30 : tMax > 30 ? 10 : tMax > 10 ? 2 : 1
  for (let s = 0; s <= tMax; s += step) {
    out.push(`<text x="${x(s).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">${s}</text>`)
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">seconds since the start of the replay (publish time)</text>`)
  out.push(`<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="black"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="black"/>`)
  for (const s of sent) {
    const sx = x(s.sentMs / 1000).toFixed(1)
    if (s.latencyMs === undefined) out.push(`<line x1="${sx}" x2="${sx}" y1="${T - 8}" y2="${T - 2}" stroke="#888"/>`)
    else out.push(`<circle cx="${sx}" cy="${y(s.latencyMs).toFixed(1)}" r="${s.cold === true ? 3 : 1.6}" fill="${s.cold === true ? '#d62728' : '#1f77b4'}" fill-opacity="${s.warmup ? 0.25 : 0.7}"/>`)
  }
  out.push(`<text x="${W - R}" y="${T + 12}" text-anchor="end"><tspan fill="#d62728">● waited for a cold start</tspan>  <tspan fill="#1f77b4">● warm</tspan>  <tspan fill="#888">| lost</tspan></text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
