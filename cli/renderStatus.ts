import type { Percentiles, StatusSnapshot } from '../dashboard/statusSnapshot.js'

function ms (s: number | undefined): string {
  if (s === undefined) return '-'
  return s < 1 ? `${(s * 1000).toFixed(1)}ms` : `${s.toFixed(2)}s`
}

function pct (p: Percentiles): string { return `${ms(p.p50)} / ${ms(p.p95)} / ${ms(p.p99)}` }

/** Control characters a device could send in a topic or payload, which would move the terminal's cursor or recolour it. */
function clean (s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/** Left-aligned columns, the header underlined by the widths. */
function table (head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)]
}

/** `iotless status`: the dashboard's picture as text. Topics and payloads are cut and stripped of control characters. */
export function renderStatus (s: StatusSnapshot, opts: { url: string; traces: number }): string {
  const out: string[] = [`iotless at ${opts.url}, ${new Date(s.atMs).toISOString()} (rates over ${s.rateWindowS.toFixed(0)} s)`, '']
  out.push('Routes', ...table(['route', 'target:function', 'msg/s', 'received', 'replies', 'dead', 'retries'],
    s.routes.map((r) => [r.route, r.target === undefined ? '-' : `${r.target}:${r.function ?? ''}`, r.ratePerS.toFixed(2), String(r.received), String(r.replies), String(r.deadLetters), String(r.retries)])))
  const refused = Object.entries(s.rejected).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`)
  out.push(`unrouted ${s.unrouted}${refused.length > 0 ? `; refused: ${refused.join(', ')}` : ''}`, '')
  const opt = (n: number | undefined): string => n === undefined ? '-' : String(n)
  out.push('Functions', ...table(['function', 'warm', 'starting', 'busy', 'queued', 'cold', 'invocations', 'p50 / p95 / p99'],
    s.functions.map((f) => [f.name, String(f.warm), opt(f.starting), opt(f.busy), opt(f.queued), String(f.coldStarts),
      Object.entries(f.invocations).map(([k, n]) => `${k} ${n}`).join(', ') || '0', pct(f.latency)])), '')
  out.push('Dead letters', ...(s.deadLetters.length === 0 ? ['none'] : table(['route', 'code', 'count'], s.deadLetters.map((d) => [d.route, d.code, String(d.count)]))), '')
  if (s.prefetch === undefined) out.push('Prefetch: off', '')
  else out.push('Prefetch', ...(s.prefetch.length === 0 ? ['no decision yet'] : table(['function', 'wanted', 'arrivals/min'], s.prefetch.map((p) => [p.function, String(p.wanted), p.arrivalsPerMinute.toFixed(1)]))), '')
  // Multi-tier routes only (a server from before they existed sends no `tiers`).
  const tiers = s.tiers ?? []
  if (tiers.length > 0) {
    out.push('Placement (multi-tier routes)', ...table(['route', 'tier', 'share', 'decisions', 'predicted p50', 'measured p50'],
      tiers.map((x) => [x.route, clean(x.tier), `${(100 * x.share).toFixed(0)}%`, Object.entries(x.decisions).map(([k, n]) => `${k} ${n}`).join(', '), ms(x.predicted.p50), ms(x.measured.p50)])), '')
  }
  const traces = s.traces.slice(0, opts.traces)
  out.push(`Last messages (${traces.length})`)
  for (const t of traces) {
    const spans = t.spans.slice(1).map((sp) => `${sp.name} ${ms((sp.endMs - sp.startMs) / 1000)}${sp.error !== undefined ? ` [${clean(sp.error)}]` : ''}`).join(', ')
    const payload = clean(t.payloadPreview.slice(0, 60)) + (t.payloadBytes > 60 ? '...' : '')
    out.push(`  ${clean(t.topic)}  ${t.outcome}  ${ms((t.endMs - t.startMs) / 1000)}  ${payload}`, `    ${spans}`)
  }
  return out.join('\n') + '\n'
}
