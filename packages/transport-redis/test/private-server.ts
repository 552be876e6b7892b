/**
 * A Redis server of a test's own: `redis-server` on a free loopback port with its data in a
 * temporary directory, persisted by AOF with `appendfsync always` (the only setting under which a
 * confirmed write survives a crash of the server). It can be killed -9 and started again on the
 * same data and port. `destroy()` kills it synchronously (for process exit).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accepts, freePort } from '@herald/test-support';

/** How long a started server may take to accept connections (it replays its AOF first). */
const START_TIMEOUT_MS = 20_000;

/** A private `redis-server` process. */
export class PrivateServer {
  readonly port: number;
  readonly dir: string;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string) {
    this.port = port;
    this.dir = dir;
  }

  /** The URL to connect to. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts a server on a free port and a fresh directory; resolves once it accepts connections. */
  static async start(): Promise<PrivateServer> {
    const server = new PrivateServer(await freePort(), mkdtempSync(join(tmpdir(), 'herald-redis-')));
    await server.restart();
    return server;
  }

  /** Starts the server process (again) on the same port and data. */
  async restart(): Promise<void> {
    if (this.#child !== undefined) throw new Error('the private Redis server is already running');
    const child = spawn(
      'redis-server',
      [
        '--bind',
        '127.0.0.1',
        '--port',
        String(this.port),
        '--dir',
        this.dir,
        '--save',
        '',
        '--appendonly',
        'yes',
        '--appendfsync',
        'always',
        '--logfile',
        join(this.dir, 'server.log'),
      ],
      { stdio: 'ignore' },
    );
    this.#child = child;
    child.once('exit', () => {
      if (this.#child === child) this.#child = undefined;
    });
    const deadlineMs = performance.now() + START_TIMEOUT_MS;
    while (!(await accepts(this.port))) {
      if (performance.now() > deadlineMs || child.exitCode !== null) {
        throw new Error(
          `redis-server did not accept connections on ${this.port}; see ${this.dir}/server.log`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** kill -9: resolves once the process is gone. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** Kills the server and removes its data. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort for process exit. */
  destroy(): void {
    this.#child?.kill('SIGKILL');
  }
}
