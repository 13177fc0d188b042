import type { SimResult } from './simulate.js'

const COLORS: Record<string, string> = { fixed: '#1f77b4', knative: '#7f7f7f', hybrid: '#d62728', iotless: '#2ca02c', spes: '#9467bd', faascache: '#ff7f0e' }

function esc (s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function niceTicks (lo: number, hi: number, n: number): number[] {
  const span = hi - lo || 1
  const step0 = span / n
  const mag = Math.pow(10, Math.floor(Math.log10(step0)))
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? mag * 10
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v)
  return out
}

function label (r: SimResult): string {
  return Object.entries(r.params).filter(([k]) => ['keepAliveMin', 'stableWindowSec', 'rangeMin', 'fallbackKeepAliveMin', 'hazardThreshold', 'slackThreshold', 'newKeepAliveMin', 'memoryBudgetMb'].includes(k)).map(([k, v]) => `${k}=${v}`).join(' ')
}

/**
 * A hand-written SVG scatter of the sweep: wasted memory (x, GB-s) against the 75th-percentile function cold-start %
 * (y), one colour per policy, points of one policy joined in order of waste. Lower-left is better.
 */
export function paretoSvg (results: readonly SimResult[], title: string): string {
  const W = 900
  const H = 560
  const m = { l: 80, r: 220, t: 50, b: 60 }
  const xs = results.map((r) => r.wastedMemoryGbSeconds)
  const ys = results.map((r) => r.p75FunctionColdStartPct)
  const x0 = 0
  const x1 = Math.max(...xs, 1) * 1.05
  const y0 = 0
  const y1 = Math.min(100, Math.max(...ys, 1) * 1.1)
  const px = (x: number): number => m.l + ((x - x0) / (x1 - x0)) * (W - m.l - m.r)
  const py = (y: number): number => H - m.b - ((y - y0) / (y1 - y0)) * (H - m.t - m.b)
  const out: string[] = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2 - m.r / 2}" y="24" text-anchor="middle" font-size="15">${esc(title)}</text>`)
  for (const t of niceTicks(x0, x1, 6)) {
    out.push(`<line x1="${px(t)}" y1="${m.t}" x2="${px(t)}" y2="${H - m.b}" stroke="#eee"/>`)
    out.push(`<text x="${px(t)}" y="${H - m.b + 16}" text-anchor="middle">${t >= 1000 ? `${t / 1000}k` : t}</text>`)
  }
  for (const t of niceTicks(y0, y1, 6)) {
    out.push(`<line x1="${m.l}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" stroke="#eee"/>`)
    out.push(`<text x="${m.l - 8}" y="${py(t) + 4}" text-anchor="end">${t}</text>`)
  }
  out.push(`<rect x="${m.l}" y="${m.t}" width="${W - m.l - m.r}" height="${H - m.t - m.b}" fill="none" stroke="#333"/>`)
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 18}" text-anchor="middle">wasted memory (GB-seconds, warm but idle)</text>`)
  out.push(`<text transform="translate(22 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">75th-percentile function cold-start %</text>`)
  const policies = [...new Set(results.map((r) => r.policy))]
  policies.forEach((p, i) => {
    const color = COLORS[p] ?? '#9467bd'
    const pts = results.filter((r) => r.policy === p).sort((a, b) => a.wastedMemoryGbSeconds - b.wastedMemoryGbSeconds)
    out.push(`<polyline fill="none" stroke="${color}" stroke-opacity="0.5" points="${pts.map((r) => `${px(r.wastedMemoryGbSeconds).toFixed(1)},${py(r.p75FunctionColdStartPct).toFixed(1)}`).join(' ')}"/>`)
    for (const r of pts) {
      out.push(`<circle cx="${px(r.wastedMemoryGbSeconds).toFixed(1)}" cy="${py(r.p75FunctionColdStartPct).toFixed(1)}" r="4" fill="${color}"><title>${esc(`${p} ${label(r)}: p75 ${r.p75FunctionColdStartPct.toFixed(2)}%, ${Math.round(r.wastedMemoryGbSeconds)} GB-s, cold ${r.coldStartPct.toFixed(3)}%`)}</title></circle>`)
    }
    const ly = m.t + 20 + i * 22
    out.push(`<circle cx="${W - m.r + 20}" cy="${ly - 4}" r="5" fill="${color}"/><text x="${W - m.r + 32}" y="${ly}">${esc(p)}</text>`)
  })
  out.push(`<text x="${W - m.r + 14}" y="${m.t + 20 + policies.length * 22 + 10}" fill="#555">lower-left is better</text>`)
  out.push('</svg>')
  return out.join('\n') + '\n'
}
