import type { Command } from './command.js'
import { upCommand } from './up.js'
import { adapterCommand } from './adapter.js'
import { proxyCommand } from './proxy.js'
import { simCommand } from './sim.js'
import { openwhiskDeployCommand } from './openwhiskDeploy.js'
import { fnCommand } from './fn.js'
import { prefetchCommand } from './prefetch.js'
import { replayCommand } from './replay.js'

/** Every subcommand, in the order `iotless --help` lists them. Later components add theirs here. */
export const commands: Command[] = [
  upCommand,
  adapterCommand,
  proxyCommand,
  simCommand,
  fnCommand,
  openwhiskDeployCommand,
  prefetchCommand,
  replayCommand
]
