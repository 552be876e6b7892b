/**
 * A RabbitMQ node of a test's own: `PrivateServer` of `@herald/test-support` running the node on
 * free loopback ports (AMQP and Erlang distribution) with its data in the server's directory, which
 * the test may kill -9 and start again on the same data: a broker restart without touching the
 * shared broker that other test files use. About 7 s per start here.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  freePort,
  PrivateServer,
  type PrivateServerPlace,
  type PrivateServerSpec,
} from '@herald/test-support';

/** The server script run directly (the /usr/sbin wrapper would switch to the rabbitmq user). */
export const RABBITMQ_SERVER = '/usr/lib/rabbitmq/bin/rabbitmq-server';
const RABBITMQ_CTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';
const run = promisify(execFile);
const COOKIE = '/var/lib/rabbitmq/.erlang.cookie';
const START_TIMEOUT_MS = 60_000;
/** How long one `rabbitmqctl` call may take. */
const CONTROL_TIMEOUT_MS = 30_000;

/** Throws, naming what is missing, unless a private node can be started here. */
export function requirePrivateNode(): void {
  for (const file of [RABBITMQ_SERVER, COOKIE]) {
    if (!existsSync(file)) throw new Error(`${file} is missing: run npm run setup (installs RabbitMQ)`);
  }
}

/** The node's name: unique per test process and directory. */
function nodeName(directory: string): string {
  return `herald-test-${process.pid}-${path.basename(directory).slice(-6)}@localhost`;
}

/** Everything of the node under its directory, its AMQP port, and its distribution port. */
function nodeEnv({ port, directory }: PrivateServerPlace, distributionPort: number): NodeJS.ProcessEnv {
  return {
    HOME: directory,
    RABBITMQ_NODENAME: nodeName(directory),
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

/** The node's spec, on `distributionPort` for Erlang distribution (the helper picks the AMQP port). */
function nodeSpec(distributionPort: number): PrivateServerSpec {
  return {
    name: 'RabbitMQ node',
    command: RABBITMQ_SERVER,
    args: () => [],
    url: ({ port }) => `amqp://guest:guest@127.0.0.1:${port}`,
    install: 'run npm run setup (installs RabbitMQ)',
    log: 'log',
    env: (place) => nodeEnv(place, distributionPort),
    prepare({ directory }) {
      for (const sub of ['mnesia', 'log']) mkdirSync(path.join(directory, sub));
      writeFileSync(path.join(directory, 'enabled_plugins'), '[].\n');
      copyFileSync(COOKIE, path.join(directory, '.erlang.cookie'));
    },
    startTimeoutMs: START_TIMEOUT_MS,
  };
}

/** A private RabbitMQ node: the helper's server, plus `rabbitmqctl` against it. */
export class PrivateNode {
  readonly server: PrivateServer;
  readonly #env: NodeJS.ProcessEnv;

  private constructor(server: PrivateServer, env: NodeJS.ProcessEnv) {
    this.server = server;
    this.#env = env;
  }

  /** Creates the node's directory and starts it; resolves once it accepts AMQP connections. */
  static async start(): Promise<PrivateNode> {
    requirePrivateNode();
    const distributionPort = await freePort();
    const server = await PrivateServer.start(nodeSpec(distributionPort));
    return new PrivateNode(server, { ...process.env, ...nodeEnv(server, distributionPort) });
  }

  /** The AMQP URL of the node. */
  get url(): string {
    return this.server.url;
  }

  /** Starts the node on its data (after {@link kill}); resolves once it accepts connections. */
  restart(): Promise<void> {
    return this.server.restart();
  }

  /**
   * Stops the node with `signal` (SIGKILL: a crash; SIGTERM: RabbitMQ's orderly shutdown);
   * resolves once it exited and its port is closed.
   */
  kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    return this.server.kill(signal);
  }

  /** SIGSTOP of the node: the broker stops answering without closing anything (once resolved). */
  freeze(): Promise<void> {
    return this.server.freeze();
  }

  /** SIGCONT after {@link freeze}. */
  thaw(): void {
    this.server.thaw();
  }

  /** Runs `rabbitmqctl` against this node (e.g. `set_vm_memory_high_watermark 0`). */
  async control(args: readonly string[]): Promise<string> {
    const name = this.#env.RABBITMQ_NODENAME!;
    const { stdout } = await run(RABBITMQ_CTL, ['-n', name, ...args], {
      env: this.#env,
      timeout: CONTROL_TIMEOUT_MS,
    });
    return stdout;
  }

  /** Kills the node (if running) and removes its directory. */
  stop(): Promise<void> {
    return this.server.stop();
  }
}
