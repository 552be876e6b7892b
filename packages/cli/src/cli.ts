/**
 * The `herald` command dispatcher: one file per command under `commands/`, each exporting a
 * {@link Command}. `run(argv)` resolves the process exit code; it never calls `process.exit`
 * itself, so commands can be tested in-process.
 */
import { readFileSync } from 'node:fs';
import { clientConfigList } from './client-config.ts';
import { CliError, EXIT, exitCodeOf, UsageError } from './errors.ts';
import { loadPluginCommand } from './plugin.ts';

export { UsageError };

/** Where a command writes, and what it knows about the terminal. */
export interface CommandIo {
  readonly stdout: (text: string) => void;
  /**
   * Writes bytes to stdout as they are: consume's kcat layouts use it on a pipe for keys and
   * values that are not UTF-8, as kcat does. Without it they print as `base64:…` text.
   */
  readonly stdoutBytes?: (bytes: Uint8Array) => void;
  readonly stderr: (text: string) => void;
  /** Whether stdout is a terminal (JSON is automatic when it is not; default false). */
  readonly stdoutIsTty?: boolean;
  /** Whether stderr is a terminal (progress bars are drawn only then; default false). */
  readonly stderrIsTty?: boolean;
  /** Terminal width for progress bars (default 80). */
  readonly columns?: number;
  /** Environment (default `process.env`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Standard input, for `produce` (default `process.stdin`). */
  readonly stdin?: NodeJS.ReadableStream;
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

/** A command in the registry: loaded on first use, so `herald topics` never loads the Kafka server. */
export interface CommandEntry {
  readonly name: string;
  /** One line for `herald --help` (the same as the loaded command's). */
  readonly summary: string;
  load(): Promise<Command>;
}

/** Every command, by name. Startup cost matters for a CLI: each loads only its own modules. */
export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'topics',
    summary: 'list, create, delete and describe topics (partitions, offsets, sizes, retention)',
    load: async () => (await import('./commands/topics.ts')).topicsCommand,
  },
  {
    name: 'produce',
    summary: 'publish lines of stdin, or files (kcat -P): keys, headers, CloudEvents',
    load: async () => (await import('./commands/produce.ts')).produceCommand,
  },
  {
    name: 'consume',
    summary: 'print messages (kcat -C): offsets, groups, -e, -c, -f formats, -J, CloudEvents JSON',
    load: async () => (await import('./commands/consume.ts')).consumeCommand,
  },
  {
    name: 'tail',
    summary: 'follow a topic with colours on a terminal (the last N messages, then new ones)',
    load: async () => (await import('./commands/tail.ts')).tailCommand,
  },
  {
    name: 'groups',
    summary: 'list and describe consumer groups with lag and time lag; reset their offsets',
    load: async () => (await import('./commands/groups.ts')).groupsCommand,
  },
  {
    name: 'replay',
    summary: 'copy a window of a topic (by offset or time) into another topic',
    load: async () => (await import('./commands/replay.ts')).replayCommand,
  },
  {
    name: 'dlq',
    summary: 'list, show and redrive dead letters (filters by group, reason, id)',
    load: async () => (await import('./commands/dlq.ts')).dlqCommand,
  },
  {
    name: 'projections',
    summary: 'list the projections of an event-store module; rebuild one by replay',
    load: async () => (await import('./commands/projections.ts')).projectionsCommand,
  },
  {
    name: 'console',
    summary: 'serve the web console: topics, groups, dead letters, search, tail, trace, topology',
    load: () => loadPluginCommand('@herald/console', 'consoleCommand'),
  },
  {
    name: 'asyncapi',
    summary: 'write the AsyncAPI 3.0 document of services from their contracts (or --check it)',
    load: async () => (await import('./commands/asyncapi.ts')).asyncapiCommand,
  },
  {
    name: 'serve',
    summary: 'run the embedded broker as a Kafka-protocol server',
    load: async () => (await import('./commands/serve.ts')).serveCommand,
  },
  {
    name: 'acls',
    summary: 'add, remove and list the ACLs herald serve --acls enforces',
    load: async () => (await import('./commands/acls.ts')).aclsCommand,
  },
  {
    name: 'users',
    summary: 'add, remove and list the SASL users of herald serve (salted SCRAM credentials)',
    load: async () => (await import('./commands/users.ts')).usersCommand,
  },
];

/** The exit codes as `--help` documents them. */
export const EXIT_CODES_USAGE = `Exit codes:
  ${EXIT.ok}    done (also a consumer stopped with Ctrl-C, after committing)
  ${EXIT.failure}    runtime error
  ${EXIT.usage}    bad usage
  ${EXIT.notFound}    not found (topic, group, dead letter, data directory)
  ${EXIT.conflict}    conflict (topic exists, data directory locked, group has live members)
  ${EXIT.unavailable}    broker unreachable, or it does not implement what the command needs
  ${EXIT.interrupted}  interrupted (Ctrl-C) before produce, replay or redrive finished
`;

function overview(): string {
  const lines = COMMANDS.map((command) => `  ${command.name.padEnd(10)} ${command.summary}`);
  return [
    'Usage: herald <command> [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Run herald <command> --help for details and examples; herald --version (-V) prints the version.',
    'Target a data directory with --data DIR, or a server with --broker HOST:PORT (or HERALD_BROKER).',
    '',
    EXIT_CODES_USAGE,
  ].join('\n');
}

/** The version of this package (`@herald/cli`'s package.json). */
export function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return manifest.version;
}

/** Whether `args` ask for kcat's `-X list` (the supported client properties). */
function asksForPropertyList(args: readonly string[]): boolean {
  return args.some((arg, index) => arg === '-Xlist' || (arg === '-X' && args[index + 1] === 'list'));
}

/** Runs `herald` with `argv` (without node and the script). */
export async function run(argv: readonly string[], io: CommandIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(overview());
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '--version' || name === '-V') {
    io.stdout(`herald ${version()}\n`);
    return EXIT.ok;
  }
  const entry = COMMANDS.find((candidate) => candidate.name === name);
  if (entry === undefined) {
    io.stderr(`herald: unknown command "${name}"\n\n${overview()}`);
    return EXIT.usage;
  }
  let command: Command;
  try {
    command = await entry.load();
  } catch (error) {
    io.stderr(`herald ${name}: ${error instanceof CliError ? error.message : String(error)}\n`);
    return exitCodeOf(error);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout(command.usage);
    return EXIT.ok;
  }
  if (rest.includes('--version') || rest.includes('-V')) {
    io.stdout(`herald ${version()}\n`);
    return EXIT.ok;
  }
  if (name !== 'serve' && asksForPropertyList(rest)) {
    io.stdout(clientConfigList());
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr(`herald ${command.name}: ${error.message}\nRun herald ${command.name} --help for usage.\n`);
      return EXIT.usage;
    }
    const message = error instanceof CliError ? error.message : ((error as Error).stack ?? String(error));
    io.stderr(`herald ${command.name}: ${message}\n`);
    return exitCodeOf(error);
  }
}
