import type { FunctionConfig } from '../core/config/schema.js'
import { openEffectStore } from '../effects/openStores.js'
import { parseStoreUrl } from '../effects/storeUrl.js'

/**
 * Opens and closes every function's effect store once at start-up: instances open theirs lazily, at a cold
 * start, so without this a Redis that is down or a path that cannot be written would pass start-up and fail
 * at the first message. The error names the field (`functions.<name>.effects.url`).
 */
export async function checkEffectStores (functions: Readonly<Record<string, FunctionConfig>>, baseDir: string): Promise<void> {
  for (const [name, fn] of Object.entries(functions)) {
    if (fn.effects === undefined) continue
    const field = `functions.${name}.effects.url`
    const store = await openEffectStore(parseStoreUrl(fn.effects.url, field, baseDir), field)
    await store.close()
  }
}
