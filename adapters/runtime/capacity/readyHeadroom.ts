/**
 * Ready headroom: a pool that starts a new instance as soon as one is taken needs, beside the requests it holds, only
 * enough idle slots for the arrivals that come before the new instance is ready. With Poisson arrivals at `ratePerSec`
 * and `replenishMs` from "a slot was taken" to "its replacement is ready", an arrival finds no free slot when at least
 * k others came within the last replenishMs: P(Poisson(rate x replenishMs) >= k). The smallest k with that at most
 * `missShare` is the headroom.
 *
 * M/M/c's Erlang C sizes a fixed c for the steady state; a function that serves for much longer than an instance takes
 * to start changes its number in service slowly, so a pool that follows it with k spare slots needs far fewer than the
 * fixed c (0.033/s x 15 s, 0.5 busy on average: Erlang C wants 3 instances for 95% within 100 ms, in flight + 1
 * misses 0.8% of requests at 1.5 on average). For short, frequent requests the steady-state c is the smaller: the
 * sizer takes the smaller of the two (sloScaler.ts).
 */
export function headroomSlots (ratePerSec: number, replenishMs: number, missShare: number, maxSlots = 1 << 16): number {
  if (ratePerSec <= 0 || replenishMs <= 0) return 0
  const m = ratePerSec * replenishMs / 1000
  // P(N >= k) = 1 - sum_{i<k} e^-m m^i / i!, the terms in log space (e^-m alone underflows past m ~ 745).
  let logTerm = -m
  let below = 0
  for (let k = 1; k <= maxSlots; k++) {
    below += Math.exp(logTerm)
    if (1 - below <= missShare) return k
    logTerm += Math.log(m / k)
  }
  return maxSlots
}
