/**
 * Child processes of tests: spawn with the output collected (bounded) and read line by line, wait
 * for a line with a deadline, stop (SIGTERM) or kill (SIGKILL) and wait for the exit. Every child
 * started here that is still running when the test process exits is killed then, so none outlives
 * a failed test; {@link killWithThisProcess} extends that to children spawned elsewhere. Also
 * `runTool` (run to completion, in a process group of its own, so a program killed at its deadline
 * takes the servers it started with it), `requireTool` and `printLine`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { withDeadline } from '@herald/bus/testing';
import { atExit } from './exit-cleanup.ts';

export { printLine, requireTool } from '@herald/bus/testing';

/** Most output characters a {@link Child} keeps for `output()` (the newest 1 Mi; older ones are dropped). */
export const CHILD_OUTPUT_CHARS_MAX = 1024 * 1024;
/** Most stdout lines a {@link Child} keeps for `waitForLine` (the newest 10,000). */
export const CHILD_LINES_MAX = 10_000;
/** How long `stop` and `kill` wait for the exit by default: 15 s. */
export const CHILD_EXIT_TIMEOUT_MS_DEFAULT = 15_000;

/** Children to SIGKILL at exit; `true` for a process-group leader whose whole group goes. */
const running = new Map<ChildProcess, boolean>();
let cleanupRegistered = false;

function track(child: ChildProcess, group = false): void {
  if (!cleanupRegistered) {
    cleanupRegistered = true;
    atExit('kill-children', killRunning);
  }
  running.set(child, group);
  child.once('exit', () => running.delete(child));
}

function killRunning(): void {
  for (const [child, group] of running) {
    if (group) killGroup(child);
    else child.kill('SIGKILL');
  }
  running.clear();
}

/**
 * SIGKILLs the process group `child` leads (it was spawned `detached`), so whatever it started
 * dies with it: a benchmark killed at its deadline cannot finish its own `finally` that stops its
 * servers. Falls back to the child alone when the group is already gone.
 */
function killGroup(child: ChildProcess): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

/**
 * Kills `child` with SIGKILL when this process exits (normally or by an uncaught error) while it
 * still runs, as every child started here is: for a child another module spawned, such as a
 * server a benchmark starts, so that it does not outlive the process that owns it.
 */
export function killWithThisProcess(child: ChildProcess): void {
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) track(child);
}

/** Options of {@link spawnChild}. */
export interface ChildOptions {
  /** The working directory; this process's by default. */
  readonly cwd?: string;
  /** Variables set for the child, over this process's environment (or alone, see `inheritEnv`). */
  readonly env?: NodeJS.ProcessEnv;
  /** Whether the child starts from this process's environment (default true). */
  readonly inheritEnv?: boolean;
  /** Written to the child's stdin, which is then left open (more may be written); ignored when absent. */
  readonly input?: string;
}

/** A child process started by {@link spawnChild}. */
export interface Child {
  /** The Node.js child process. */
  readonly process: ChildProcess;
  /** Its pid. */
  readonly pid: number;
  /** Resolves the exit code once the process has exited (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** Its stdout and stderr so far, interleaved (at most the newest {@link CHILD_OUTPUT_CHARS_MAX} characters). */
  output(): string;
  /** Its stdout so far (bounded like `output`). */
  stdout(): string;
  /** Its stderr so far (bounded like `output`). */
  stderr(): string;
  /**
   * Resolves the first stdout line (among the newest {@link CHILD_LINES_MAX} seen, or to come)
   * that `pattern` matches, with the match. Rejects naming `what` and showing the output when the
   * child exits first or after `timeoutMs`; the child keeps running then (kill it if you must).
   */
  waitForLine(pattern: RegExp, timeoutMs: number, what?: string): Promise<RegExpExecArray>;
  /** Calls `listener` with every complete stdout line from now on (without its newline); returns a function that stops it. */
  onLine(listener: (line: string) => void): () => void;
  /** SIGTERM; resolves the exit code, rejects when it has not exited within `timeoutMs` (default 15 s). */
  stop(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL; resolves once it has exited, rejects after `timeoutMs` (default 15 s). */
  kill(timeoutMs?: number): Promise<void>;
}

/** Appends `chunk` to `text`, keeping the newest `limit` characters. */
function appendBounded(text: string, chunk: string, limit: number): string {
  const joined = text + chunk;
  return joined.length <= limit ? joined : joined.slice(joined.length - limit);
}

/** Starts `command args` with piped stdout and stderr, tracked so that it dies with this process. */
export function spawnChild(command: string, args: readonly string[], options: ChildOptions = {}): Child {
  const env = options.inheritEnv === false ? { ...options.env } : { ...process.env, ...(options.env ?? {}) };
  const child = spawn(command, args, {
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env,
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
  });
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', reject);
  });
  // An ENOENT surfaces through `exited` and `waitForLine`; keep it from being an unhandled rejection.
  exited.catch(() => {});
  if (child.pid !== undefined) track(child);
  if (options.input !== undefined) {
    child.stdin!.on('error', () => {}); // the child may exit without reading its input
    child.stdin!.write(options.input);
  }
  let output = '';
  let stdout = '';
  let stderr = '';
  let partial = '';
  const lines: string[] = [];
  const lineListeners = new Set<(line: string) => void>();
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output = appendBounded(output, chunk, CHILD_OUTPUT_CHARS_MAX);
    stdout = appendBounded(stdout, chunk, CHILD_OUTPUT_CHARS_MAX);
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (lines.length > CHILD_LINES_MAX) lines.shift();
      for (const listener of lineListeners) listener(line);
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    output = appendBounded(output, chunk, CHILD_OUTPUT_CHARS_MAX);
    stderr = appendBounded(stderr, chunk, CHILD_OUTPUT_CHARS_MAX);
  });
  const name = [command, ...args].join(' ');
  return {
    process: child,
    pid: child.pid ?? -1,
    exited,
    output: () => output,
    stdout: () => stdout,
    stderr: () => stderr,
    waitForLine(pattern, timeoutMs, what = `a line matching ${pattern} from ${name}`) {
      for (const line of lines) {
        const match = pattern.exec(line);
        if (match !== null) return Promise.resolve(match);
      }
      let listener: ((line: string) => void) | undefined;
      const found = new Promise<RegExpExecArray>((resolve, reject) => {
        listener = (line) => {
          const match = pattern.exec(line);
          if (match !== null) resolve(match);
        };
        lineListeners.add(listener);
        exited.then(
          (code) => reject(new Error(`${name} exited with ${code} before ${what}; output:\n${output}`)),
          reject,
        );
      });
      return withDeadline(found, timeoutMs, what)
        .catch((error: unknown) => {
          throw new Error(`${(error as Error).message}; output:\n${output}`, { cause: error });
        })
        .finally(() => lineListeners.delete(listener!));
    },
    onLine(listener) {
      lineListeners.add(listener);
      return () => lineListeners.delete(listener);
    },
    stop(timeoutMs = CHILD_EXIT_TIMEOUT_MS_DEFAULT) {
      child.kill('SIGTERM');
      return withDeadline(exited, timeoutMs, `${name} to exit after SIGTERM`);
    },
    async kill(timeoutMs = CHILD_EXIT_TIMEOUT_MS_DEFAULT) {
      child.kill('SIGKILL');
      await withDeadline(exited, timeoutMs, `${name} to exit after SIGKILL`);
    },
  };
}

/** What {@link runTool} resolves: the exit code (null when killed) and the collected output. */
export interface ToolResult {
  /** The exit code; null when a signal ended the program (also after the deadline). */
  readonly code: number | null;
  /** Everything it wrote to stdout. */
  readonly stdout: string;
  /** Everything it wrote to stderr. */
  readonly stderr: string;
}

/** Options of {@link runTool}. */
export interface RunToolOptions {
  /** Written to stdin, which is then closed (empty by default). */
  readonly input?: string | Buffer;
  /** Killed with SIGKILL after this long (then `code` is null); 60 s by default. */
  readonly timeoutMs?: number;
  /** The whole environment of the program; this process's by default. */
  readonly env?: NodeJS.ProcessEnv;
  /** The working directory; this process's by default. */
  readonly cwd?: string;
}

/** Most output characters {@link runTool} collects from stdout or stderr before it kills the program: 256 Mi. */
export const TOOL_OUTPUT_CHARS_MAX = 256 * 1024 * 1024;

/**
 * Runs an external program to completion; resolves its exit code and output. Killed with SIGKILL
 * after `timeoutMs` (code null) or once stdout or stderr exceeds {@link TOOL_OUTPUT_CHARS_MAX}
 * (then it rejects). Rejects when the program cannot be started.
 *
 * The program runs in a process group of its own, and those kills (and the one when this process
 * exits first) reach the whole group: a program killed mid-way cannot stop what it started (a
 * benchmark's `herald serve` and Kafka JVMs), so they go with it instead of outliving the test.
 * A program that ends on its own keeps what it started on purpose (`scripts/setup.sh`'s servers).
 */
export function runTool(
  command: string,
  args: readonly string[],
  options: RunToolOptions = {},
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      detached: true, // a process group of its own, for killGroup
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    });
    if (child.pid !== undefined) track(child, true);
    let stdout = '';
    let stderr = '';
    let overflow = false;
    const collect = (stream: 'stdout' | 'stderr') => (chunk: string) => {
      if (stream === 'stdout') stdout += chunk;
      else stderr += chunk;
      if (Math.max(stdout.length, stderr.length) > TOOL_OUTPUT_CHARS_MAX && !overflow) {
        overflow = true;
        killGroup(child);
      }
    };
    child.stdout.setEncoding('utf8').on('data', collect('stdout'));
    child.stderr.setEncoding('utf8').on('data', collect('stderr'));
    const timer = setTimeout(() => killGroup(child), options.timeoutMs ?? 60_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (overflow) {
        reject(new Error(`${command} wrote more than ${TOOL_OUTPUT_CHARS_MAX} characters: killed`));
        return;
      }
      resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}
