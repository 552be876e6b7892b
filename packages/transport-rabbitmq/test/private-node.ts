/**
 * A RabbitMQ node of a test's own, on free loopback ports and a temp data directory, that the test
 * may kill -9 and start again on the same data: a broker restart without touching the shared
 * broker that other test files use. About 7 s per start here.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { accepts, freePort, withDeadline } from '@herald/test-support';

/** The server script run directly (the /usr/sbin wrapper would switch to the rabbitmq user). */
export const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const RABBITMQ_CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
const run = promisify(execFile);
const COOKIE = '/var/lib/rabbitmq/.erlang.cookie';
const START_DEADLINE_MS = 60_000;

/** Throws, naming what is missing, unless a private node can be started here. */
export function requirePrivateNode(): void {
  for (const file of [RABBITMQ_SERVER, COOKIE]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run setup (installs RabbitMQ)`);
  }
}

/** A private RabbitMQ node. */
export class PrivateNode {
  readonly directory: string;
  readonly port: number;
  readonly #env: NodeJS.ProcessEnv;
  #child: ChildProcess | undefined;

  private constructor(directory: string, port: number, distributionPort: number) {
    this.directory = directory;
    this.port = port;
    const name = `herald-test-${process.pid}-${path.basename(directory).slice(-6)}@localhost`;
    this.#env = {
      ...process.env,
      HOME: directory,
      RABBITMQ_NODENAME: name,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distributionPort),
      RABBITMQ_MNESIA_BASE: path.join(directory, 'mnesia'),
      RABBITMQ_MNESIA_DIR: path.join(directory, 'mnesia', 'node'),
      RABBITMQ_FEATURE_FLAGS_FILE: path.join(directory, 'feature_flags'),
      RABBITMQ_LOG_BASE: path.join(directory, 'log'),
      RABBITMQ_ENABLED_PLUGINS_FILE: path.join(directory, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: path.join(directory, 'plugins'),
      RABBITMQ_PID_FILE: path.join(directory, 'pid'),
      RABBITMQ_CONFIG_FILE: path.join(directory, 'rabbitmq'),
    };
  }

  /** Creates the node's directory and starts it; resolves once it accepts AMQP connections. */
  static async start(): Promise<PrivateNode> {
    requirePrivateNode();
    const directory = mkdtempSync(path.join(tmpdir(), 'herald-rabbitmq-node-'));
    for (const sub of ['mnesia', 'log']) mkdirSync(path.join(directory, sub));
    writeFileSync(path.join(directory, 'enabled_plugins'), '[].\n');
    copyFileSync(COOKIE, path.join(directory, '.erlang.cookie'));
    const node = new PrivateNode(directory, await freePort(), await freePort());
    try {
      await node.restart();
    } catch (error) {
      node.destroy();
      throw error;
    }
    return node;
  }

  /** The AMQP URL of the node. */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Starts the node on its data (after {@link kill}); resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error('the private node is running');
    // Its own process group, so kill -9 reaches the Erlang VM and its helpers, and nothing else.
    // The group's shell also watches this test process: if the test dies without its after hook
    // (killed by a timeout), the node goes within a second instead of outliving it, and its
    // directory right after (removed from a new session, which the group's kill does not reach).
    const watchdog =
      `"${RABBITMQ_SERVER}" & while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ` +
      `setsid sh -c 'sleep 2; rm -rf "${this.directory}"' & sleep 0.5; kill -9 -$$`;
    const child = spawn('sh', ['-c', watchdog], {
      cwd: this.directory,
      env: this.#env,
      detached: true,
      stdio: 'ignore',
    });
    this.#child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `the private RabbitMQ node exited during start (${code ?? signal}); see ${this.directory}/log`,
          ),
        ),
      ),
    );
    exited.catch(() => {});
    const up = (async () => {
      while (!(await accepts(this.port))) await new Promise((resolve) => setTimeout(resolve, 100));
    })();
    await withDeadline(
      Promise.race([up, exited]),
      START_DEADLINE_MS,
      'the private RabbitMQ node to accept connections',
    );
  }

  /**
   * Stops the node's process group with `signal` (SIGKILL: a crash; SIGTERM: RabbitMQ's orderly
   * shutdown); resolves once it exited and its port is closed.
   */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    try {
      if (signal === 'SIGTERM') process.kill(-child.pid!, 'SIGCONT');
      process.kill(-child.pid!, signal);
    } catch {
      // The group is gone already.
    }
    await withDeadline(exited, 30_000, 'the private RabbitMQ node to exit');
    const closed = (async () => {
      while (await accepts(this.port)) await new Promise((resolve) => setTimeout(resolve, 50));
    })();
    await withDeadline(closed, 10_000, 'the private RabbitMQ node to release its port');
  }

  /** SIGSTOP of the node's process group: the broker stops answering without closing anything. */
  freeze(): void {
    process.kill(-this.#running().pid!, 'SIGSTOP');
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    process.kill(-this.#running().pid!, 'SIGCONT');
  }

  /** Runs `rabbitmqctl` against this node (e.g. `set_vm_memory_high_watermark 0`). */
  async control(args: readonly string[]): Promise<string> {
    const name = this.#env.RABBITMQ_NODENAME!;
    const { stdout } = await run(RABBITMQ_CTL, ['-n', name, ...args], { env: this.#env, timeout: 30_000 });
    return stdout;
  }

  #running(): ChildProcess {
    if (this.#child?.pid === undefined) throw new Error('the private node is not running');
    return this.#child;
  }

  /** Kills the node (if running) and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit): kill -9 the group. */
  destroy(): void {
    const child = this.#child;
    this.#child = undefined;
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
    rmSync(this.directory, { recursive: true, force: true });
  }
}
