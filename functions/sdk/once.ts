import type { CloudEvent } from 'cloudevents'
import { IotlessError } from '../../core/errors.js'
import type { StateTx, StateValue } from '../../effects/effectStore.js'
import type { InitContext } from './defineFunction.js'

/**
 * Runs `fn` at most once for this event and `key` (mu2sls's effect log): its writes to `tx` and the logged
 * result commit together, so a re-execution of the same event (a retry, a redelivery after a crash, a second
 * tier) returns the logged result instead of repeating the effect. The event's id is the key of the log: the
 * adapter keeps it stable across redeliveries (docs/effects.md).
 *
 *   await once(ctx, event, 'count', (tx) => tx.incr(`readings/${node}`))
 *
 * Effects outside `tx` (an HTTP call, an e-mail) are not undone when a commit loses a race; give them
 * `${event.id}/${key}` as their idempotency key. Without an effect store this throws EFFECTS_NOT_CONFIGURED.
 */
export async function once<T extends StateValue | undefined> (ctx: Pick<InitContext, 'effects'>, event: Pick<CloudEvent<unknown>, 'id'>, key: string, fn: (tx: StateTx) => T | Promise<T>): Promise<T> {
  if (ctx.effects === undefined) {
    throw new IotlessError('EFFECTS_NOT_CONFIGURED', 'once() needs an effect store: set functions.<name>.effects.url (local pool) or IOTLESS_EFFECTS_URL (iotless fn serve), e.g. sqlite:data/effects.db')
  }
  return (await ctx.effects.once(event.id, key, fn)).value
}
