/**
 * M/M/c queueing (Erlang C), the model LaSS (Wang, Ali-Eldin, Shenoy, HPDC 2021) sizes a function's containers
 * with. LaSS (umassos/openwhisk EdgeBalancer.scala, planHomogeneous) approximates P(wait <= t) by the probability
 * that at most floor(t c mu + c - 1) requests are in the system, summed with factorials; here the exact waiting-time
 * distribution of M/M/c FCFS is used, P(W <= t) = 1 - C(c, a) e^{-(c mu - lambda) t}, with C from the Erlang B
 * recurrence, which is numerically stable for any c (no factorials, no overflow).
 */

/** Erlang C: the probability an arrival waits, with c servers and offered load a = lambda / mu (a < c). */
export function erlangC (c: number, a: number): number {
  if (a <= 0) return 0
  if (a >= c) return 1
  // Erlang B by recurrence: B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)).
  let b = 1
  for (let k = 1; k <= c; k++) b = (a * b) / (k + a * b)
  const rho = a / c
  return b / (1 - rho + rho * b)
}

/** P(W <= waitMs) in an M/M/c queue with arrival rate `ratePerSec` and mean service time `serviceMs`. */
export function waitProbability (c: number, ratePerSec: number, serviceMs: number, waitMs: number): number {
  if (ratePerSec <= 0) return 1
  if (c <= 0) return 0
  const mu = 1000 / serviceMs
  const a = ratePerSec / mu
  if (a >= c) return 0
  const pw = erlangC(c, a)
  return 1 - pw * Math.exp(-(c * mu - ratePerSec) * (waitMs / 1000))
}

export interface ServersNeeded {
  /** The smallest c that meets the objective, or maxServers when none up to it does. */
  servers: number
  /** False when even maxServers misses the objective. */
  met: boolean
  /** P(W <= waitMs) at `servers`. */
  probability: number
}

/** The smallest c in 0..maxServers with P(W <= waitMs) >= percentile (0 when nothing arrives). */
export function serversNeeded (ratePerSec: number, serviceMs: number, waitMs: number, percentile: number, maxServers: number): ServersNeeded {
  if (ratePerSec <= 0) return { servers: 0, met: true, probability: 1 }
  // Below the load a = lambda / mu the queue is unstable; start the search there.
  const a = ratePerSec * serviceMs / 1000
  for (let c = Math.max(1, Math.floor(a)); c <= maxServers; c++) {
    const p = waitProbability(c, ratePerSec, serviceMs, waitMs)
    if (p >= percentile) return { servers: c, met: true, probability: p }
  }
  return { servers: maxServers, met: false, probability: waitProbability(maxServers, ratePerSec, serviceMs, waitMs) }
}

/** The highest arrival rate c servers hold within the objective (bisection on the monotone P(W <= t)). */
export function maxRateWithin (c: number, serviceMs: number, waitMs: number, percentile: number): number {
  let lo = 0
  let hi = c * 1000 / serviceMs
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2
    if (waitProbability(c, mid, serviceMs, waitMs) >= percentile) lo = mid
    else hi = mid
  }
  return lo
}
