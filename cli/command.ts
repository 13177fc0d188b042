/** One `iotless <name>` subcommand. `run` returns the process exit code. */
export interface Command {
  name: string
  summary: string
  /** Full help text printed by `iotless <name> --help`. */
  usage: string
  run(argv: string[]): Promise<number>
}

/** One line of the registry in commands.ts: what `iotless --help` shows, and how to load the command. */
export interface CommandEntry {
  summary: string
  load(): Promise<Command>
}
