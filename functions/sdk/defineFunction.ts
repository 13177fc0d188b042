import type { CloudEvent } from 'cloudevents'
import type { Metrics } from '../../core/metrics.js'
import type { EffectStore } from '../../effects/effectStore.js'

/** What init receives, once per instance. */
export interface InitContext {
  /** The function's name in the config. */
  name: string
  /** `functions.<name>.config` from iotless.yaml. */
  config: Readonly<Record<string, unknown>>
  /**
   * iotless metrics where the host exports them (`iotless fn serve` serves them on GET /metrics);
   * undefined in a local-pool instance.
   */
  metrics?: Metrics
  /**
   * The effect log and keyed state (`functions.<name>.effects.url` in the pool, `IOTLESS_EFFECTS_URL` for
   * `iotless fn serve`); undefined when none is configured. In handlers, use `once(ctx, event, key, fn)`.
   */
  effects?: EffectStore
}

/** OpenWhisk activation data (the `/run` body's string keys), when served as an OpenWhisk action. */
export interface ActivationInfo {
  namespace?: string
  actionName?: string
  activationId?: string
  /** Epoch ms by which the activation must finish; OpenWhisk sends it as a string, parsed here. */
  deadlineMs?: number
}

/** What each invocation receives besides the event. */
export interface HandleContext<S> extends InitContext {
  /** Whatever init returned (models, sessions, parsed settings). */
  state: S
  /** Set only when the function runs as an OpenWhisk action. */
  activation?: ActivationInfo
}

/** A reply: bytes or text pass through; anything else is sent as JSON. */
export interface Reply {
  data: unknown
  /** Defaults: application/octet-stream for bytes, text/plain for strings, application/json otherwise. */
  contentType?: string
  /**
   * CloudEvent extension attributes for the reply event (lower-case letters and digits), e.g.
   * `{ provider: 'cpu' }`. Knative serving sends them as `ce-` headers; other hosts ignore them.
   */
  extensions?: Record<string, string>
}

export type HandleResult = Reply | undefined | void

export interface FunctionDefinition<S = unknown> {
  init?: (ctx: InitContext) => S | Promise<S>
  handle: (event: CloudEvent<unknown>, ctx: HandleContext<S>) => HandleResult | Promise<HandleResult>
  /**
   * Optional: a whole batch in one call (e.g. one batched inference). It must return one entry per event,
   * in order: a result, or an Error for that event alone. Without it, a batch calls handle once per event.
   */
  handleBatch?: (events: ReadonlyArray<CloudEvent<unknown>>, ctx: HandleContext<S>) => Promise<Array<HandleResult | Error>>
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
  if (def.handleBatch !== undefined && typeof def.handleBatch !== 'function') throw new TypeError('defineFunction: handleBatch must be a function')
  return Object.freeze({ ...def, [MARK]: true as const })
}

export function isDefinedFunction (value: unknown): value is DefinedFunction<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true
}
