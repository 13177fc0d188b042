/**
 * `node dist/bench/placement/poolDumps.js A.json B.json ...`: the accuracy of several placement runs together,
 * from the files run.ts writes with DUMP=, with its Wilson 95% interval, the ties within noise (per run: the
 * noise is each run's own), the chosen tiers' total against the oracle's, the model without the link, contention and queue-ahead terms
 * on the same samples, and (dumps that record it) the model with the contention term unscaled to the run's life,
 * the exploration rule before directed exploration (legacy), the one before the cost credit (previous) and, from ORACLE_REPEAT=1 runs, the oracle's
 * self-agreement with the accuracy ceiling it implies and the total-latency ceiling (accuracyStats.ts totalCeiling).
 */
import { readFileSync } from 'node:fs'
import { seededRandom } from '../../core/seededRandom.js'
import { ceilingFromAgreement, selfAgreement, tiesWithinNoise, totalCeiling, wilson, type RatioEstimate } from './accuracyStats.js'

interface Dumped { input: string; chosen: string; reason: string; measured: Record<string, number>; base: Record<string, number>; ps?: Record<string, number>; legacy?: string; previous?: string; repeat?: Record<string, number> }

const fastest = (m: Record<string, number>): string => Object.keys(m).reduce((b, n) => (m[n] as number) < (m[b] as number) ? n : b)
const pctCi = (k: number, n: number): string => { const [lo, hi] = wilson(k, n); return `${k}/${n} = ${(100 * k / Math.max(1, n)).toFixed(1)}% (Wilson 95% ${(100 * lo).toFixed(1)}-${(100 * hi).toFixed(1)}%)` }

let n = 0
let right = 0
let baseRight = 0
let psRight = 0
let psN = 0
let ties = 0
let clear = 0
let clearRight = 0
let mineMs = 0
let oracleMs = 0
let legacyN = 0
let legacyRight = 0
let legacyMs = 0
let legacyOracleMs = 0
let againMs = 0
let previousN = 0
let previousRight = 0
let previousMs = 0
let previousOracleMs = 0
let againOracleMs = 0
const pairs: Array<{ input: string; first: Record<string, number>; second: Record<string, number> }> = []
for (const file of process.argv.slice(2)) {
  const s = (JSON.parse(readFileSync(file, 'utf8')) as { sampled: Dumped[] }).sampled
  const tie = tiesWithinNoise(s, ['edge', 'cloud'])
  s.forEach((x, k) => {
    const best = fastest(x.measured)
    const base = x.reason !== 'best' ? x.chosen : fastest(x.base)
    n++
    mineMs += x.measured[x.chosen] as number
    oracleMs += x.measured[best] as number
    if (x.chosen === best) right++
    if (base === best) baseRight++
    // Dumps from before the contention term was scaled to the run's life have no ps: not counted there.
    if (x.ps !== undefined) { psN++; if ((x.reason !== 'best' ? x.chosen : fastest(x.ps)) === best) psRight++ }
    if (x.legacy !== undefined) {
      legacyN++
      if (x.legacy === best) legacyRight++
      legacyMs += x.measured[x.legacy] as number
      legacyOracleMs += x.measured[best] as number
    }
    if (x.previous !== undefined) {
      previousN++
      if (x.previous === best) previousRight++
      previousMs += x.measured[x.previous] as number
      previousOracleMs += x.measured[best] as number
    }
    if (x.repeat !== undefined) {
      pairs.push({ input: x.input, first: x.measured, second: x.repeat })
      againMs += x.repeat[x.chosen] as number
      againOracleMs += Math.min(...Object.values(x.repeat))
    }
    if (tie[k] === true) ties++
    else { clear++; if (x.chosen === best) clearRight++ }
  })
}
console.log(`pooled over ${process.argv.length - 2} runs: accuracy ${pctCi(right, n)}; the model before this round's terms on the same samples ${pctCi(baseRight, n)}; the unscaled contention term (PS mean) on the same samples ${psN > 0 ? pctCi(psRight, psN) : 'not recorded'}; ties within noise ${ties}/${n} = ${(100 * ties / Math.max(1, n)).toFixed(1)}%; accuracy on the rest ${pctCi(clearRight, clear)}; total of the chosen tiers vs the oracle's ${(mineMs / Math.max(1e-9, oracleMs)).toFixed(3)}x`)
if (legacyN > 0) console.log(`the exploration rule before directed exploration, same samples (${legacyN}): ${pctCi(legacyRight, legacyN)}; its total vs the oracle's ${(legacyMs / legacyOracleMs).toFixed(3)}x`)
if (previousN > 0) console.log(`the exploration rule before the cost credit, same samples (${previousN}): ${pctCi(previousRight, previousN)}; its total vs the oracle's ${(previousMs / previousOracleMs).toFixed(3)}x`)
if (pairs.length > 0) {
  const k = selfAgreement(pairs)
  const [lo, hi] = wilson(k, pairs.length)
  const c = ceilingFromAgreement(k / pairs.length)
  console.log(`oracle self-agreement ${pctCi(k, pairs.length)}; implied ceiling for any predictor ${(100 * c.lower).toFixed(1)}-${(100 * c.upper).toFixed(1)}% (its upper bound over the agreement's interval ${(100 * ceilingFromAgreement(lo).upper).toFixed(1)}-${(100 * ceilingFromAgreement(hi).upper).toFixed(1)}%); 97% needs agreement >= 94.2%`)
  const tc = totalCeiling(pairs, seededRandom(13))
  const r = (e: RatioEstimate): string => `${e.ratio.toFixed(3)}x (bootstrap 95% ${e.low.toFixed(3)}-${e.high.toFixed(3)}x)`
  console.log(`total-latency ceiling against the realized oracle (both repetitions scored, each by a choice made without it): the other repetition's fastest tier ${r(tc.crossRepeat)}; each input's mean per tier over the other samples ${r(tc.classOut)}; the same in sample ${r(tc.classIn)}; the target is 1.05x. The placement's choices scored on the second repetition: ${(againMs / againOracleMs).toFixed(3)}x its oracle`)
}
