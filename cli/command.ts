/** One `iotless <name>` subcommand. `run` returns the process exit code. */
export interface Command {
  name: string
  summary: string
  /** Full help text printed by `iotless <name> --help`. */
  usage: string
  run(argv: string[]): Promise<number>
}
