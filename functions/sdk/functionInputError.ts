/**
 * Thrown by a handler when the event itself is unusable (a corrupt image, audio of the wrong length, no data).
 * The SDK answers it as the caller's fault and keeps serving: 400 with code FUNCTION_BAD_INPUT over HTTP
 * (Knative, local pool), and a 200 result `{ error: { code, message } }` under OpenWhisk, which marks an
 * application error without stopping the container.
 */
export class FunctionInputError extends Error {
  readonly code = 'FUNCTION_BAD_INPUT'
  constructor (message: string) {
    super(message)
    this.name = 'FunctionInputError'
  }
}

export function isFunctionInputError (err: unknown): err is FunctionInputError {
  return err instanceof Error && (err as { code?: unknown }).code === 'FUNCTION_BAD_INPUT'
}
