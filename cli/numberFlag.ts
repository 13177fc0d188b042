import { IotlessError } from '../core/errors.js'

export interface NumberRule {
  /** Smallest value allowed (inclusive). */
  min?: number
  /** Values must be greater than this (exclusive), e.g. 0 for "a positive number". */
  above?: number
  /** Largest value allowed (inclusive). */
  max?: number
  /** Whole numbers only. */
  integer?: boolean
}

function expected (rule: NumberRule): string {
  const bounds = [
    rule.above === undefined ? undefined : `> ${rule.above}`,
    rule.min === undefined ? undefined : `>= ${rule.min}`,
    rule.max === undefined ? undefined : `<= ${rule.max}`
  ].filter((b) => b !== undefined)
  return `${rule.integer === true ? 'a whole number' : 'a number'}${bounds.length === 0 ? '' : ' ' + bounds.join(' and ')}`
}

/**
 * The one number-flag parser of the CLI: `raw` (the flag's text, undefined when absent) as a number that
 * satisfies `rule`, else `fallback` when absent. A bad value is a CLI_USAGE error that names the flag, says
 * what was expected and what was given, and ends with the command's usage when one is passed.
 */
export function numberFlag (flag: string, raw: string | undefined, fallback: number, rule: NumberRule, usage?: string): number {
  if (raw === undefined) return fallback
  const n = Number(raw)
  const ok = raw.trim() !== '' && Number.isFinite(n) &&
    (rule.integer !== true || Number.isInteger(n)) &&
    (rule.min === undefined || n >= rule.min) &&
    (rule.above === undefined || n > rule.above) &&
    (rule.max === undefined || n <= rule.max)
  if (!ok) throw new IotlessError('CLI_USAGE', `${flag}: expected ${expected(rule)}, got ${JSON.stringify(raw)}${usage === undefined ? '' : `\n\n${usage}`}`)
  return n
}
