import type { Config } from '../core/config/schema.js'
import { IotlessError } from '../core/errors.js'
import type { LocalTarget } from '../adapters/local/localTarget.js'
import type { Target } from '../adapters/target.js'

/** The targets routes can name: `local` (the embedded pool) and every entry under `targets`. */
export function buildTargets (config: Readonly<Config>, _baseDir: string, _env: NodeJS.ProcessEnv, local: LocalTarget): Map<string, Target> {
  const targets = new Map<string, Target>([['local', local]])
  for (const [name, t] of Object.entries(config.targets)) {
    throw new IotlessError('CONFIG_INVALID', `targets.${name}: kind ${t.kind} is not wired yet`)
  }
  return targets
}

/** Closes every target but the local pool (the stack closes that itself, after the adapter). */
export async function closeRemoteTargets (targets: ReadonlyMap<string, Target>): Promise<void> {
  await Promise.all([...targets].filter(([name]) => name !== 'local').map(([, t]) => t.close()))
}
