/**
 * `herald serve` as a child process of a test: start it on a free (or given) port, wait until it
 * prints that it listens, stop or kill it. Runs this monorepo's CLI from source; the test-support
 * package is the only place that knows where it is, so no runtime package points at the CLI.
 */
import { fileURLToPath } from 'node:url';
import { type Child, spawnChild } from './child.ts';

/** The `herald` bin of this monorepo (`packages/cli/bin/herald.ts`), run by {@link startServe}. */
export const HERALD_BIN: string = fileURLToPath(new URL('../../cli/bin/herald.ts', import.meta.url));

/** How long {@link startServe} waits for "listening on" by default: 20 s. */
export const SERVE_START_TIMEOUT_MS_DEFAULT = 20_000;

/** The line `herald serve` prints once it accepts connections; the port is the first group. */
const LISTENING = /listening on [^\s]+:(\d+)/;

/** Options of {@link startServe}. */
export interface StartServeOptions {
  /** The data directory (`--data`). */
  readonly dir: string;
  /** The port to listen on (`--port`); 0, the default, picks a free one. */
  readonly port?: number;
  /** Partitions per new topic (`--partitions`); the server's default when omitted. */
  readonly partitions?: number;
  /** Variables set for the child, over this process's environment (or alone, see `inheritEnv`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Whether the child starts from this process's environment (default true). */
  readonly inheritEnv?: boolean;
  /**
   * The command that runs `herald`, before `serve` and its options: by default this Node.js and
   * {@link HERALD_BIN}; an installed bin (`['node_modules/.bin/herald']`) for a consumer's view.
   */
  readonly command?: readonly [string, ...string[]];
  /** The working directory; this process's by default. */
  readonly cwd?: string;
  /** More `serve` options, after the others (e.g. `['--health-port', '0']`). */
  readonly args?: readonly string[];
  /** How long to wait for the server to listen; 20 s by default. */
  readonly startTimeoutMs?: number;
}

/** A `herald serve` child process that is listening. */
export interface ServeProcess {
  /** The child process. */
  readonly child: Child;
  /** Its pid (it holds the data directory's lock). */
  readonly pid: number;
  /** The port it listens on. */
  readonly port: number;
  /** `127.0.0.1:<port>`, for a Kafka client's bootstrap brokers. */
  readonly bootstrap: string;
  /** Its data directory. */
  readonly dir: string;
  /** Resolves the exit code once the process exits (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Its stdout and stderr so far, interleaved (for failure messages). */
  output(): string;
  /** SIGTERM; resolves the exit code (rejects when it does not exit within `timeoutMs`, 15 s by default). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL; resolves once the process is gone (rejects after `timeoutMs`, 15 s by default). */
  kill(timeoutMs?: number): Promise<void>;
}

/**
 * Starts `herald serve --port <port> --data <dir>` and resolves once it prints that it listens.
 * Rejects with its output when it exits first or does not listen in time (then it is killed with
 * SIGKILL, so a failed start leaves no process behind). A server still running when the test
 * process exits is killed then.
 */
export async function startServe(options: StartServeOptions): Promise<ServeProcess> {
  const [command, ...prefix] = options.command ?? [process.execPath, HERALD_BIN];
  const args = [...prefix, 'serve', '--port', String(options.port ?? 0), '--data', options.dir];
  if (options.partitions !== undefined) args.push('--partitions', String(options.partitions));
  args.push(...(options.args ?? []));
  const child = spawnChild(command, args, {
    ...(options.env === undefined ? {} : { env: options.env }),
    ...(options.inheritEnv === undefined ? {} : { inheritEnv: options.inheritEnv }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const startTimeoutMs = options.startTimeoutMs ?? SERVE_START_TIMEOUT_MS_DEFAULT;
  let port: number;
  try {
    const match = await child.waitForLine(LISTENING, startTimeoutMs, 'herald serve to listen');
    port = Number(match[1]);
  } catch (error) {
    await child.kill().catch(() => {});
    throw error;
  }
  return {
    child,
    pid: child.pid,
    port,
    bootstrap: `127.0.0.1:${port}`,
    dir: options.dir,
    exited: child.exited,
    output: () => child.output(),
    stop: (timeoutMs) => child.stop(timeoutMs),
    kill: (timeoutMs) => child.kill(timeoutMs),
  };
}
