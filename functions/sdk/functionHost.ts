import type { CloudEvent } from 'cloudevents'
import type { DefinedFunction, HandleContext, HandleResult, InitContext } from './defineFunction.js'
import { encodeReply, type EncodedReply } from './encodeReply.js'
import { isFunctionInputError } from './functionInputError.js'
import { WARMUP_EVENT_TYPE } from './warmup.js'

export type Outcome =
  | { kind: 'reply'; reply: EncodedReply; extensions: Record<string, string> | undefined }
  | { kind: 'warmup' }
  | { kind: 'error'; status: 400 | 500; code: 'FUNCTION_BAD_INPUT' | 'FUNCTION_HANDLER_ERROR' | 'FUNCTION_BAD_REPLY'; message: string; cause?: unknown }

export function errorOutcome (err: unknown): Outcome {
  if (isFunctionInputError(err)) return { kind: 'error', status: 400, code: 'FUNCTION_BAD_INPUT', message: err.message, cause: err }
  return { kind: 'error', status: 500, code: 'FUNCTION_HANDLER_ERROR', message: err instanceof Error ? err.message : String(err), cause: err }
}

function resultOutcome (result: HandleResult | Error): Outcome {
  if (result instanceof Error) return errorOutcome(result)
  try {
    const reply = encodeReply(result)
    return { kind: 'reply', reply, extensions: result?.extensions }
  } catch (err) {
    return { kind: 'error', status: 500, code: 'FUNCTION_BAD_REPLY', message: (err as Error).message, cause: err }
  }
}

/**
 * One function in one process, whatever serves it: runs init exactly once (later calls share its promise,
 * a failure stays a failure), then invokes the handler for single events and batches. Warm-up events
 * (type WARMUP_EVENT_TYPE) are answered without calling the handler.
 */
export class FunctionHost<S> {
  readonly fn: DefinedFunction<S>
  readonly ctx: InitContext
  #init: Promise<HandleContext<S>> | undefined
  #handleCtx: HandleContext<S> | undefined
  initMs: number | undefined

  constructor (fn: DefinedFunction<S>, ctx: InitContext) {
    this.fn = fn
    this.ctx = ctx
  }

  get initialized (): boolean { return this.#handleCtx !== undefined }

  /** The handler's context; only after init. */
  get handleCtx (): HandleContext<S> {
    if (this.#handleCtx === undefined) throw new Error('the function has not been initialised')
    return this.#handleCtx
  }

  init (): Promise<HandleContext<S>> {
    this.#init ??= (async () => {
      const started = performance.now()
      const state = (this.fn.init === undefined ? undefined : await this.fn.init(this.ctx)) as S
      this.initMs = performance.now() - started
      this.#handleCtx = { ...this.ctx, state }
      return this.#handleCtx
    })()
    return this.#init
  }

  /** Invokes one event or a batch; one outcome per event, in order. Waits for init if it is still running. */
  async invoke (events: ReadonlyArray<CloudEvent<unknown>>, extra: Partial<HandleContext<S>> = {}): Promise<Outcome[]> {
    const base = await this.init()
    const ctx: HandleContext<S> = { ...base, ...extra }
    const outcomes: Array<Outcome | undefined> = events.map((e) => e.type === WARMUP_EVENT_TYPE ? { kind: 'warmup' } : undefined)
    const todo = events.map((e, i) => ({ e, i })).filter(({ i }) => outcomes[i] === undefined)
    if (todo.length > 1 && this.fn.handleBatch !== undefined) {
      try {
        const results = await this.fn.handleBatch(todo.map(({ e }) => e), ctx)
        if (!Array.isArray(results) || results.length !== todo.length) {
          throw new TypeError(`handleBatch must return ${todo.length} results, got ${Array.isArray(results) ? results.length : typeof results}`)
        }
        todo.forEach(({ i }, k) => { outcomes[i] = resultOutcome(results[k]) })
      } catch (err) {
        const o = err instanceof TypeError && err.message.startsWith('handleBatch must')
          ? { kind: 'error' as const, status: 500 as const, code: 'FUNCTION_BAD_REPLY' as const, message: err.message }
          : errorOutcome(err)
        for (const { i } of todo) outcomes[i] = o
      }
    } else {
      for (const { e, i } of todo) {
        try {
          outcomes[i] = resultOutcome(await this.fn.handle(e, ctx))
        } catch (err) {
          outcomes[i] = errorOutcome(err)
        }
      }
    }
    return outcomes as Outcome[]
  }
}
