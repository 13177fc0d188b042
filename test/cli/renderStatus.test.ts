// `iotless status` as text: the multi-tier routes' tiers are printed, and a server without them is fine. Pure.
import t from 'tap'
import { renderStatus } from '../../cli/renderStatus.js'
import type { StatusSnapshot } from '../../dashboard/statusSnapshot.js'

const none = { count: 0, p50: undefined, p95: undefined, p99: undefined }
const base: StatusSnapshot = { atMs: 0, rateWindowS: 10, routes: [], unrouted: 0, rejected: {}, functions: [], deadLetters: [], placement: [], tiers: [], prefetch: undefined, traces: [] }

t.test('tiers of a multi-tier route: share, reasons, predicted and measured p50', async (t) => {
  const text = renderStatus({ ...base, tiers: [{ route: 'routes[2]', tier: 'edge\u001b[31m', decisions: { best: 6, explore: 1 }, total: 7, share: 0.7, predicted: { ...none, count: 4, p50: 0.004 }, measured: { ...none, count: 4, p50: 0.02 } }] }, { url: 'http://x', traces: 0 })
  t.match(text, /Placement \(multi-tier routes\)/)
  t.match(text, /routes\[2\]\s+edge\\x1b\[31m\s+70%\s+best 6, explore 1\s+4\.0ms\s+20\.0ms/, 'one row, the tier name stripped of control characters')
})

t.test('no tiers (one-tier routes, or an older server): no section', async (t) => {
  t.notMatch(renderStatus(base, { url: 'http://x', traces: 0 }), /Placement/)
  const { tiers: _omit, ...older } = base
  t.notMatch(renderStatus(older as StatusSnapshot, { url: 'http://x', traces: 0 }), /Placement/)
})
