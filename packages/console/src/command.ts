/**
 * `herald console`: serves the console on a target until Ctrl-C. The command lives here, not in
 * `@herald/cli`: the CLI finds it at run time when this package is installed (its command
 * plugins), so dependencies keep pointing one way (console → cli) and `herald topics` never
 * loads the console.
 */
import {
  type Command,
  type CommandIo,
  EXIT,
  integerOption,
  parseOptions,
  stringOption,
  TARGET_USAGE,
  UsageError,
  withTarget,
} from '@herald/cli/internal';
import { startConsole } from './server.ts';

const USAGE = `Usage: herald console [--data DIR | --broker HOST:PORT] [--port N] [--host ADDRESS --token SECRET] [--read-only] [--traces FILE]

Serves the Herald console, a web page of topics and messages (and producing them), groups and
lag, dead letters, search, live tail, the trace of one flow and the topology, until Ctrl-C. It
prints its URL.

Options:
  --port N               port to listen on (default 8080; 0 picks a free one)
  --host ADDRESS         address to bind (default 127.0.0.1, this machine only); any other
                         address needs --token
  --token SECRET         required of every request (the printed URL carries it)
  --read-only            refuse every write: producing, resetting groups, redriving dead
                         letters (default: allowed to whoever reaches the console)
  --traces FILE          a JSON-lines span file (the checkout's traces.jsonl with --otel): the
                         trace view shows each event's handler runs
${TARGET_USAGE}
Examples:
  herald console --data ./data
  herald console --broker 127.0.0.1:9092 --port 9000
`;

const OPTIONS = {
  port: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
  'read-only': { type: 'boolean' },
  traces: { type: 'string' },
} as const;

/** Addresses that reach this machine only: no token needed there. */
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The port `herald console` listens on without --port. */
const PORT_DEFAULT = 8080;

async function consoleRun(args: readonly string[], io: CommandIo): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const port = integerOption(values, 'port', '--port', 0, 65535) ?? PORT_DEFAULT;
  const host = stringOption(values, 'host');
  const token = stringOption(values, 'token');
  // Checked before the target opens (the console checks it too): a usage error, not a failure.
  if (host !== undefined && !LOOPBACK.has(host) && (token === undefined || token === '')) {
    throw new UsageError(`--host ${host} would serve your data to the network; add --token SECRET`);
  }
  return withTarget(values, io, false, async (target) => {
    const server = await startConsole({
      target,
      port,
      host,
      token,
      readOnly: values['read-only'] === true,
      traces: stringOption(values, 'traces'),
    });
    io.stdout(`Herald console on ${target.description}: ${server.url}\n`);
    const stop = Promise.withResolvers<void>();
    process.once('SIGINT', () => stop.resolve());
    process.once('SIGTERM', () => stop.resolve());
    await stop.promise;
    await server.close();
    return EXIT.ok;
  });
}

/** The `herald console` command. */
export const consoleCommand: Command = {
  name: 'console',
  summary: 'serve the web console: topics, groups, dead letters, search, tail, trace, topology',
  usage: USAGE,
  run: consoleRun,
};
