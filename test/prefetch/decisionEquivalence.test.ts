import t from 'tap'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { IotlessPolicy } from '../../prefetch/policies/iotlessPolicy.js'
import type { Policy } from '../../prefetch/policies/policy.js'
import { loadTrace } from '../../prefetch/traces/loadTrace.js'
import { sliceTrace } from '../../prefetch/traces/traceWindow.js'
import { compareDecisions, EQUIVALENCE_VARIANTS } from './reference/compareDecisions.js'
import { IotlessPolicyV1 } from './reference/iotlessPolicyV1.js'

// The faster iotless (issue 15, decision cost) must decide exactly as the frozen one (test/prefetch/reference), step by
// step, on real trace slices from ../shared/traces, at the defaults and at settings that take the other code paths.
const TRACES = join(process.cwd(), '..', 'shared', 'traces')


function extra (p: Policy, fn: string): Record<string, unknown> {
  const q = p as unknown as { plan(fn: string): Array<[number, number]>, price: number, floorShare: number, coldStarts(fn: string): number, heldMb: number }
  return { plan: q.plan(fn), price: q.price, floorShare: q.floorShare, coldStarts: q.coldStarts(fn), heldMb: q.heldMb }
}

const have = existsSync(join(TRACES, 'azure2019-500fn-8h'))
t.test('the fast iotless decides exactly as the frozen one on real trace slices', { skip: have ? false : `no traces in ${TRACES}`, timeout: 120_000 }, async (t) => {
  const a19 = loadTrace(join(TRACES, 'azure2019-500fn-8h'), undefined)
  const slices = [
    ['a19 minutes 0..60', sliceTrace(a19, 0, 60)],
    ['a19 minutes 360..420', sliceTrace(a19, 360, 420)],
    ['azure2021', loadTrace(join(TRACES, 'azure2021'), undefined)],
    ['ulb minutes 0..400', sliceTrace(loadTrace(join(TRACES, 'ulb-sensornet-library1'), undefined), 0, 400)]
  ] as const
  for (const [name, trace] of slices) {
    for (const params of EQUIVALENCE_VARIANTS) {
      const r = compareDecisions(trace, new IotlessPolicyV1(params), new IotlessPolicy(params), extra)
      t.same(r.mismatch, undefined, `${name}, ${JSON.stringify(params)}: ${r.steps} steps`)
    }
  }
})
