import type { CloudEvent } from 'cloudevents'

/** What init receives, once per instance. */
export interface InitContext {
  /** The function's name in the config. */
  name: string
  /** `functions.<name>.config` from iotless.yaml. */
  config: Readonly<Record<string, unknown>>
}

/** What each invocation receives besides the event. */
export interface HandleContext<S> extends InitContext {
  /** Whatever init returned (models, sessions, parsed settings). */
  state: S
}

/** A reply: bytes or text pass through; anything else is sent as JSON. */
export interface Reply {
  data: unknown
  /** Defaults: application/octet-stream for bytes, text/plain for strings, application/json otherwise. */
  contentType?: string
}

export type HandleResult = Reply | undefined | void

export interface FunctionDefinition<S = unknown> {
  init?: (ctx: InitContext) => S | Promise<S>
  handle: (event: CloudEvent<unknown>, ctx: HandleContext<S>) => HandleResult | Promise<HandleResult>
}

const MARK: unique symbol = Symbol.for('iotless.function')

export type DefinedFunction<S = unknown> = FunctionDefinition<S> & { readonly [MARK]: true }

/**
 * Declares a function: `init(ctx)` runs once per instance (load models here), then `handle(event, ctx)` runs
 * per event and may return a reply. The module's default export must be the result.
 */
export function defineFunction<S = undefined> (def: FunctionDefinition<S>): DefinedFunction<S> {
  if (typeof def !== 'object' || def === null || typeof def.handle !== 'function') {
    throw new TypeError('defineFunction needs an object with a handle(event, ctx) function')
  }
  if (def.init !== undefined && typeof def.init !== 'function') throw new TypeError('defineFunction: init must be a function')
  return Object.freeze({ ...def, [MARK]: true as const })
}

export function isDefinedFunction (value: unknown): value is DefinedFunction<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true
}
