/**
 * A server process of a test's own (nats-server, redis-server, a RabbitMQ node...) on a free
 * loopback port with a temporary data directory, that the test may kill -9 and start again on the
 * same data and port: a server crash without touching the shared servers other test files use.
 *
 * The server runs in a process group of its own under a small `sh` supervisor, so a signal
 * reaches it and every helper it forks, and nothing else. The supervisor also watches this test
 * process: if the test dies without its `after` hook (a timeout, a SIGKILL), the server goes within
 * a second instead of outliving it, and its directory a few seconds later; on a normal exit
 * {@link PrivateServer.destroy} runs anyway.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { withDeadline } from './deadline.ts';
import { atExit } from './exit-cleanup.ts';
import { accepts, freePort } from './servers.ts';
import { temporaryDirectory } from './temp.ts';

/** How long a start may take to pass the readiness probe by default: 30 s. */
export const PRIVATE_SERVER_START_TIMEOUT_MS_DEFAULT = 30_000;
/** How long {@link PrivateServer.kill} waits for the process group to exit: 30 s. */
export const PRIVATE_SERVER_EXIT_TIMEOUT_MS = 30_000;
/** How long {@link PrivateServer.kill} then waits for the port to close: 10 s. */
export const PRIVATE_SERVER_PORT_CLOSE_TIMEOUT_MS = 10_000;
/** How long {@link PrivateServer.freeze} waits for every process of the group to stop: 5 s. */
export const PRIVATE_SERVER_FREEZE_TIMEOUT_MS = 5_000;
/** Pause between two looks at the group's states while freezing: 5 ms (a read of `/proc`). */
const FREEZE_PROBE_INTERVAL_MS = 5;
/** Pause between two readiness probes (or port checks): 50 ms. */
const PROBE_INTERVAL_MS = 50;

/**
 * `sh -c` script of the supervisor, run as `sh -c SCRIPT sh <test pid> <directory> <command>
 * <args...>`. It starts the server, and a watcher that kills the whole group once the test process
 * is gone, after handing the directory's removal to a new session (which that kill does not reach;
 * the half second lets it leave the group first). A SIGTERM of the group reaches the server
 * directly; the supervisor traps it only to keep waiting, so its own exit still means the server
 * has exited (with the server's exit code).
 */
const SUPERVISOR = [
  'watched=$1; directory=$2; shift 2',
  '"$@" & server=$!',
  '( while kill -0 "$watched" 2>/dev/null; do sleep 1; done',
  `  setsid sh -c 'sleep 2; rm -rf "$1"' sh "$directory" </dev/null >/dev/null 2>&1 &`,
  '  sleep 0.5; kill -9 -$$ ) & watcher=$!',
  'trap : TERM',
  'wait "$server"; code=$?',
  'while kill -0 "$server" 2>/dev/null; do wait "$server"; code=$?; done',
  'kill -9 "$watcher" 2>/dev/null',
  'exit "$code"',
].join('\n');

/** The port and directory a {@link PrivateServerSpec} builds its command line from. */
export interface PrivateServerPlace {
  /** The server's loopback TCP port (the same on every start). */
  readonly port: number;
  /** Its data directory (the same on every start, kept across kills). */
  readonly directory: string;
}

/** How to run one kind of server: {@link PrivateServer.start}'s argument. */
export interface PrivateServerSpec {
  /** Its name in messages, e.g. `nats-server`. */
  readonly name: string;
  /** The executable: an absolute path, or a name looked up on `PATH`. */
  readonly command: string;
  /** Its arguments: listen on 127.0.0.1 at `port`, keep data (and its log) under `directory`. */
  readonly args: (place: PrivateServerPlace) => readonly string[];
  /** The URL clients connect to, e.g. `nats://127.0.0.1:<port>`. */
  readonly url: (place: PrivateServerPlace) => string;
  /** What to do when `command` is missing, e.g. `run npm run setup (installs nats-server)`. */
  readonly install: string;
  /** Where it logs, relative to `directory`, for messages (default `server.log`). */
  readonly log?: string;
  /** Variables for the server, over this process's environment. */
  readonly env?: (place: PrivateServerPlace) => NodeJS.ProcessEnv;
  /** Fills a new data directory before the first start (config files, cookies). */
  readonly prepare?: (place: PrivateServerPlace) => void;
  /**
   * Whether the server is ready for the test: probed every 50 ms after each start, until true or
   * `startTimeoutMs`. Default: its port accepts a TCP connection.
   */
  readonly ready?: (place: PrivateServerPlace) => Promise<boolean>;
  /** How long a start may take (default {@link PRIVATE_SERVER_START_TIMEOUT_MS_DEFAULT}). */
  readonly startTimeoutMs?: number;
}

/** A running (or killed, to be restarted) private server. See the module comment. */
export class PrivateServer implements PrivateServerPlace {
  readonly port: number;
  readonly directory: string;
  readonly #spec: PrivateServerSpec;
  #child: ChildProcess | undefined;

  private constructor(spec: PrivateServerSpec, port: number, directory: string) {
    this.#spec = spec;
    this.port = port;
    this.directory = directory;
  }

  /**
   * Picks a free port and a fresh directory (removed when the process exits, or by
   * {@link stop}), prepares it and starts the server; resolves once `spec.ready` says so. Rejects
   * (leaving nothing running) when the command is missing (saying `spec.install`), when the
   * server exits during the start, or after `spec.startTimeoutMs` (naming its log).
   */
  static async start(spec: PrivateServerSpec): Promise<PrivateServer> {
    requireExecutable(spec);
    const prefix = `herald-${path.basename(spec.command).replace(/[^A-Za-z0-9-]/g, '')}-`;
    const server = new PrivateServer(spec, await freePort(), temporaryDirectory(prefix));
    atExit('kill-children', () => server.destroy());
    try {
      spec.prepare?.(server);
      await server.restart();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** The URL clients connect to. */
  get url(): string {
    return this.#spec.url(this);
  }

  /** Whether the server's process is running (started and not killed or exited). */
  get running(): boolean {
    return this.#child !== undefined;
  }

  /**
   * Starts the server again on its port and data (after {@link kill}); resolves once it is ready.
   * Rejects when it is running already, when it exits during the start, or after the start timeout.
   */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error(`the private ${this.#spec.name} is running already`);
    const spec = this.#spec;
    const child = spawn(
      'sh',
      ['-c', SUPERVISOR, 'sh', String(process.pid), this.directory, spec.command, ...spec.args(this)],
      {
        cwd: this.directory,
        env: { ...process.env, ...spec.env?.(this) },
        detached: true, // A process group of its own: kill reaches the server's helpers too.
        stdio: 'ignore',
      },
    );
    this.#child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) => {
        if (this.#child === child) this.#child = undefined;
        reject(
          new Error(
            `the private ${spec.name} exited during its start (${code ?? signal}); ${this.#logHint()}`,
          ),
        );
      }),
    );
    exited.catch(() => {});
    const timeoutMs = spec.startTimeoutMs ?? PRIVATE_SERVER_START_TIMEOUT_MS_DEFAULT;
    const ready = spec.ready ?? ((place: PrivateServerPlace) => accepts(place.port));
    let probing = true;
    const up = (async () => {
      while (probing && !(await ready(this))) await pause(PROBE_INTERVAL_MS);
    })();
    try {
      await withDeadline(
        Promise.race([up, exited]),
        timeoutMs,
        `the private ${spec.name} on port ${this.port} to be ready (${this.#logHint()})`,
      );
    } catch (error) {
      probing = false;
      await this.kill();
      throw error;
    }
  }

  /**
   * Signals the server's process group: SIGKILL (default) is a crash, SIGTERM an orderly
   * shutdown (a frozen server is continued first). Resolves once the server exited and its port is
   * closed; rejects after {@link PRIVATE_SERVER_EXIT_TIMEOUT_MS} or
   * {@link PRIVATE_SERVER_PORT_CLOSE_TIMEOUT_MS}. Does nothing when it is not running.
   */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    if (signal === 'SIGTERM') signalGroup(child, 'SIGCONT');
    signalGroup(child, signal);
    await withDeadline(exited, PRIVATE_SERVER_EXIT_TIMEOUT_MS, `the private ${this.#spec.name} to exit`);
    this.#child = undefined;
    const closed = (async () => {
      while (await accepts(this.port)) await pause(PROBE_INTERVAL_MS);
    })();
    await withDeadline(
      closed,
      PRIVATE_SERVER_PORT_CLOSE_TIMEOUT_MS,
      `the private ${this.#spec.name} to release port ${this.port}`,
    );
  }

  /**
   * SIGSTOP of the process group: the server stops answering without closing anything. Resolves
   * once every process of the group is stopped (state `T` in `/proc`, on Linux): the signal is
   * queued, not acted on, when `kill` returns, and a server thread running on the other core could
   * still answer a request sent right after. Rejects, naming the processes, if one does not stop
   * within {@link PRIVATE_SERVER_FREEZE_TIMEOUT_MS}.
   */
  async freeze(): Promise<void> {
    const child = this.#running();
    signalGroup(child, 'SIGSTOP');
    if (child.pid === undefined || process.platform !== 'linux') return;
    const group = child.pid;
    const deadlineMs = Date.now() + PRIVATE_SERVER_FREEZE_TIMEOUT_MS;
    for (;;) {
      const running = groupProcessesNotStopped(group);
      if (running.length === 0) return;
      if (Date.now() > deadlineMs) {
        throw new Error(
          `the private ${this.#spec.name}'s processes ${running.join(', ')} did not stop within ` +
            `${PRIVATE_SERVER_FREEZE_TIMEOUT_MS} ms of SIGSTOP to process group ${group}`,
        );
      }
      await pause(FREEZE_PROBE_INTERVAL_MS);
    }
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    signalGroup(this.#running(), 'SIGCONT');
  }

  /** Kills the server (SIGKILL, if running) and removes its directory. */
  async stop(): Promise<void> {
    try {
      await this.kill();
    } finally {
      rmSync(this.directory, { recursive: true, force: true, maxRetries: 3 });
    }
  }

  /** {@link stop}, for `await using server = await PrivateServer.start(spec)`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /**
   * Synchronous last resort (process exit; registered by {@link start}): SIGKILL of the process
   * group. The directory goes with the other temporary directories, after every child is killed.
   */
  destroy(): void {
    const child = this.#child;
    this.#child = undefined;
    if (child !== undefined) signalGroup(child, 'SIGKILL');
  }

  #running(): ChildProcess {
    if (this.#child === undefined) throw new Error(`the private ${this.#spec.name} is not running`);
    return this.#child;
  }

  #logHint(): string {
    return `see ${path.join(this.directory, this.#spec.log ?? 'server.log')}`;
  }
}

/** Throws, saying `spec.install`, unless `spec.command` is an executable file (on `PATH` for a bare name). */
function requireExecutable(spec: PrivateServerSpec): void {
  const candidates = spec.command.includes('/')
    ? [spec.command]
    : (process.env.PATH ?? '').split(':').map((directory) => path.join(directory || '.', spec.command));
  for (const candidate of candidates) {
    try {
      accessSync(candidate, constants.X_OK);
      return;
    } catch {
      // Not this one.
    }
  }
  throw new Error(`${spec.name}: ${spec.command} is not installed here: ${spec.install}`);
}

/**
 * The processes of process group `group` not in the stopped state (`T`), as `pid (name) state`,
 * read from `/proc/<pid>/stat`; a process that exits while it is read is left out.
 */
function groupProcessesNotStopped(group: number): string[] {
  const running: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid pgrp …; comm may hold spaces and parentheses, so split after the last ')'.
    const nameEnd = stat.lastIndexOf(')');
    const [state, , processGroup] = stat.slice(nameEnd + 2).split(' ');
    if (Number(processGroup) !== group || state === 'T' || state === 'Z') continue;
    running.push(`${entry} ${stat.slice(stat.indexOf('('), nameEnd + 1)} ${state}`);
  }
  return running;
}

/** Sends `signal` to `child`'s process group; a group that is gone already is no error. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group has exited already.
  }
}

function pause(durationMs: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, durationMs));
}
