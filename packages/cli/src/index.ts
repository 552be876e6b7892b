/** `@herald/cli`: the `herald` command line. `run(argv, io)` is the in-process entry point. */
export { COMMANDS, type Command, type CommandIo, run, UsageError } from './cli.ts';
