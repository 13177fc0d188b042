import { IotlessError } from '../../core/errors.js'
import { FIXED_PARAMS, FixedPolicy } from './fixedPolicy.js'
import { HYBRID_PARAMS, HybridPolicy } from './hybridPolicy.js'
import { IOTLESS_PARAMS, IotlessPolicy } from './iotlessPolicy.js'
import { KNATIVE_PARAMS, KnativePolicy } from './knativePolicy.js'
import { SPES_PARAMS, SpesPolicy } from './spesPolicy.js'
import { FAASCACHE_PARAMS, FaascachePolicy } from './faascachePolicy.js'
import type { Policy } from './policy.js'
import type { ParamSpecs } from './policyParams.js'

export interface PolicyEntry {
  name: string
  summary: string
  params: ParamSpecs
  create(params?: Readonly<Record<string, number | string>>): Policy
}

/** Every policy the simulator (and later the actuators) can run, by name. */
export const POLICIES: readonly PolicyEntry[] = [
  { name: 'fixed', summary: 'fixed keep-alive after the last arrival (OpenWhisk/Azure default)', params: FIXED_PARAMS, create: (p) => new FixedPolicy(p) },
  { name: 'knative', summary: 'reactive: scale to zero after the stable window plus grace, no pre-warm', params: KNATIVE_PARAMS, create: (p) => new KnativePolicy(p) },
  { name: 'hybrid', summary: 'hybrid histogram policy of Shahrad et al., ATC 2020', params: HYBRID_PARAMS, create: (p) => new HybridPolicy(p) },
  { name: 'spes', summary: 'SPES (arXiv 2403.17574): invocation-pattern categories, each with its own pre-load/unload rule', params: SPES_PARAMS, create: (p) => new SpesPolicy(p) },
  { name: 'faascache', summary: 'FaasCache (ASPLOS 2021): keep-alive as Greedy-Dual-Size-Frequency caching under a memory budget', params: FAASCACHE_PARAMS, create: (p) => new FaascachePolicy(p) },
  { name: 'iotless', summary: 'rhythm detection with just-in-time pre-warm, hazard-based histogram fallback', params: IOTLESS_PARAMS, create: (p) => new IotlessPolicy(p) }
]

export function createPolicy (name: string, params: Readonly<Record<string, number | string>> = {}): Policy {
  const entry = POLICIES.find((p) => p.name === name)
  if (entry === undefined) {
    throw new IotlessError('SIM_UNKNOWN_POLICY', `unknown policy "${name}"; choose one of ${POLICIES.map((p) => p.name).join(', ')}`)
  }
  return entry.create(params)
}
