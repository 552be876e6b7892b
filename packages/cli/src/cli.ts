/**
 * The `herald` command dispatcher: one file per command under `commands/`, each exporting a
 * {@link Command}. `run(argv)` resolves the process exit code; it never calls `process.exit`
 * itself, so commands can be tested in-process.
 */
import { serveCommand } from './commands/serve.ts';

/** Where a command writes. */
export interface CommandIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

/** One `herald <name>` command. */
export interface Command {
  readonly name: string;
  /** One line for `herald --help`. */
  readonly summary: string;
  /** Full `--help` text. */
  readonly usage: string;
  /** Runs with the arguments after the command name; resolves the exit code. */
  run(args: readonly string[], io: CommandIo): Promise<number>;
}

/** Every command, by name. */
export const COMMANDS: readonly Command[] = [serveCommand];

/** Raised by commands for bad usage: printed with the usage hint, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

function overview(): string {
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(10)} ${command.summary}`);
  return [
    'Usage: herald <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run herald <command> --help for details.',
    '',
  ].join('\n');
}

/** Runs `herald` with `argv` (without node and the script). */
export async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(overview());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    io.stderr(`herald: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`herald ${command.name}: ${error.message}\nRun herald ${command.name} --help for usage.\n`);
      return 2;
    }
    io.stderr(`herald ${command.name}: ${(error as Error).message ?? String(error)}\n`);
    return 1;
  }
}
