/**
 * Helpers of the kafka-server tests: a `herald serve` whose clean exit is asserted, kcat against
 * it, and splitting output into lines. The generic ones (the child process, deadlines, waits,
 * temporary directories) come from `@herald/test-support`.
 */
import assert from 'node:assert/strict';
import {
  requireTool,
  runTool,
  type ServeProcess,
  startServe as startServeProcess,
  type ToolResult,
  temporaryDirectory,
} from '@herald/test-support';

/** A running `herald serve`. */
export interface Serve extends Omit<ServeProcess, 'stop'> {
  /** SIGTERM and wait for a clean exit (asserts exit code 0). */
  stop(): Promise<void>;
}

/** Options of {@link startServe}. */
export interface ServeOptions {
  /** Data directory (default: a fresh one). */
  readonly dir?: string;
  /** Partitions of auto-created topics (default 4). */
  readonly partitions?: number;
  /** A script to run instead of the `herald` bin, with the same arguments (a test stand-in). */
  readonly bin?: string;
  /** Variables added to the server's environment. */
  readonly env?: NodeJS.ProcessEnv;
}

/** Starts `herald serve --port 0` on `dir` (a fresh temporary directory by default) and resolves once it listens. */
export async function startServe(options: ServeOptions = {}): Promise<Serve> {
  const serve = await startServeProcess({
    dir: options.dir ?? temporaryDirectory('herald-kafka-test-'),
    partitions: options.partitions ?? 4,
    ...(options.bin === undefined ? {} : { command: [process.execPath, options.bin] as const }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  return {
    ...serve,
    async stop() {
      assert.equal(await serve.stop(), 0, `herald serve exit code; output:\n${serve.output()}`);
    },
  };
}

let kcatChecked = false;

/**
 * Runs kcat against `bootstrap`, failing the test on a non-zero exit; without kcat installed it
 * fails at once saying `run npm run setup`.
 */
export async function kcat(
  bootstrap: string,
  args: readonly string[],
  input?: string,
  timeoutMs = 60_000,
): Promise<ToolResult> {
  if (!kcatChecked) {
    requireTool('kcat', ['-V'], "kcat (Debian's kcat)");
    kcatChecked = true;
  }
  const result = await runTool('kcat', ['-b', bootstrap, ...args], {
    ...(input === undefined ? {} : { input }),
    timeoutMs,
  });
  assert.equal(result.code, 0, `kcat ${args.join(' ')} failed:\n${result.stderr}`);
  return result;
}

/** Lines of `text` without the empty last one. */
export function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}
