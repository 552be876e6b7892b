/**
 * A nats-server of a test's own, on a free loopback port and a temp JetStream directory, that the
 * test may kill -9 and start again on the same data and port: a server crash without touching the
 * shared server other test files use. It starts in well under a second.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { accepts, freePort, withDeadline } from '@herald/test-support';

/** The Debian package's server binary (installed by npm run setup). */
export const NATS_SERVER = '/usr/sbin/nats-server';
const START_DEADLINE_MS = 30_000;

/** A free loopback TCP port. */
/** Whether something accepts connections on `port`. */
/** A private nats-server with JetStream. */
export class PrivateServer {
  readonly directory: string;
  readonly port: number;
  #child: ChildProcess | undefined;

  private constructor(directory: string, port: number) {
    this.directory = directory;
    this.port = port;
  }

  /** Creates the data directory and starts the server; resolves once it accepts connections. */
  static async start(): Promise<PrivateServer> {
    if (!existsSync(NATS_SERVER))
      throw new Error(`${NATS_SERVER} is missing: run npm run setup (installs nats-server)`);
    const server = new PrivateServer(
      mkdtempSync(path.join(tmpdir(), 'herald-nats-server-')),
      await freePort(),
    );
    try {
      await server.restart();
    } catch (error) {
      server.destroy();
      throw error;
    }
    return server;
  }

  /** The server's URL. */
  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** Starts the server on its data (after {@link kill}); resolves once it accepts connections. */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error('the private server is running');
    // A shell that also watches this test process: if the test dies without its after hook, the
    // server goes within a second instead of outliving it.
    const watchdog =
      `"${NATS_SERVER}" -a 127.0.0.1 -p ${this.port} -js -sd "${this.directory}/jetstream" ` +
      `-l "${this.directory}/server.log" & while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; kill -9 -$$`;
    const child = spawn('sh', ['-c', watchdog], { detached: true, stdio: 'ignore' });
    this.#child = child;
    const exited = new Promise<never>((_, reject) =>
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `the private nats-server exited during start (${code ?? signal}); see ${this.directory}/server.log`,
          ),
        ),
      ),
    );
    exited.catch(() => {});
    const up = (async () => {
      while (!(await accepts(this.port))) await new Promise((resolve) => setTimeout(resolve, 50));
    })();
    await withDeadline(
      Promise.race([up, exited]),
      START_DEADLINE_MS,
      'the private nats-server to accept connections',
    );
  }

  /** Kills the server's process group with `signal` (SIGKILL: a crash); resolves once its port is closed. */
  async kill(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    const exited = new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve();
      else child.once('exit', () => resolve());
    });
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // The group is gone already.
    }
    await withDeadline(exited, 30_000, 'the private nats-server to exit');
    const closed = (async () => {
      while (await accepts(this.port)) await new Promise((resolve) => setTimeout(resolve, 50));
    })();
    await withDeadline(closed, 10_000, 'the private nats-server to release its port');
  }

  /** Kills the server (if running) and removes its directory. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.directory, { recursive: true, force: true });
  }

  /** Synchronous last resort (process exit): kill -9 the group and remove the directory. */
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
