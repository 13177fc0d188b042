import { FunctionInputError } from '../sdk/functionInputError.js'

/**
 * An event refused because it asks for more work than a limit allows (pixels, audio duration), before the work
 * is done. It is a FunctionInputError, so every host answers FUNCTION_BAD_INPUT and the instance keeps serving;
 * the message starts with the limit's config key and gives its value, so the caller knows what to change.
 */
export class InputLimitError extends FunctionInputError {
  /** The function's config key that sets the limit, e.g. maxImagePixels. */
  readonly limit: string
  readonly max: number
  readonly actual: number

  constructor (limit: string, actual: number, max: number, what: string) {
    super(`${limit}: ${what} (the limit is ${max}; send less, or raise config.${limit})`)
    this.limit = limit
    this.max = max
    this.actual = actual
  }
}

/** A positive integer setting of a function's config, or its default; anything else fails init with the key named. */
export function limitSetting (config: Readonly<Record<string, unknown>>, key: string, fallback: number): number {
  const v = config[key] ?? fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw new Error(`config.${key} must be a positive integer, got ${JSON.stringify(v)}`)
  return v
}

/**
 * Takes items in order while their cost fits one budget (a batch's pixels, its audio): the first item that would
 * go over it, and every one after, is refused, so the work of one request stays bounded whatever it holds.
 */
export function withinBudget<T> (items: readonly T[], cost: (item: T) => number, budget: number, refuse: (item: T, spent: number) => Error): Array<T | Error> {
  let spent = 0
  let over = false
  return items.map((item) => {
    const c = cost(item)
    if (over || spent + c > budget) { over = true; return refuse(item, spent) }
    spent += c
    return item
  })
}
