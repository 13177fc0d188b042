import { IotlessError } from '../../core/errors.js'

/** One tunable number of a policy: its default, its valid range and what it means. */
export interface ParamSpec {
  default: number
  min: number
  max: number
  integer?: boolean
  summary: string
}

export type ParamSpecs = Readonly<Record<string, ParamSpec>>

/** Defaults overlaid with `given`, each checked against its spec; unknown names and bad values are SIM_INVALID_PARAM. */
export function resolveParams (policy: string, specs: ParamSpecs, given: Readonly<Record<string, number | string>> = {}): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, s] of Object.entries(specs)) out[k] = s.default
  for (const [k, raw] of Object.entries(given)) {
    const spec = specs[k]
    if (spec === undefined) {
      throw new IotlessError('SIM_INVALID_PARAM', `policy ${policy} has no parameter "${k}"; it has ${describeParams(specs)}`)
    }
    const v = typeof raw === 'number' ? raw : (raw.trim() === '' ? NaN : Number(raw))
    if (!Number.isFinite(v) || v < spec.min || v > spec.max || (spec.integer === true && !Number.isInteger(v))) {
      throw new IotlessError('SIM_INVALID_PARAM', `${policy} parameter ${k}=${String(raw)} must be ${spec.integer === true ? 'an integer' : 'a number'} in [${spec.min}, ${spec.max}] (${spec.summary})`)
    }
    out[k] = v
  }
  return out
}

export function describeParams (specs: ParamSpecs): string {
  const names = Object.entries(specs).map(([k, s]) => `${k} (default ${s.default})`)
  return names.length === 0 ? 'none' : names.join(', ')
}

/** The value of a resolved parameter (resolveParams fills every key). */
export function param (params: Readonly<Record<string, number>>, key: string): number {
  const v = params[key]
  if (v === undefined) throw new Error(`parameter ${key} was not resolved`)
  return v
}
