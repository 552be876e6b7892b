/**
 * The servers a Jepsen-style run tests, behind one interface the nemesis drives: `herald serve`
 * as a child process, and real Apache Kafka (one KRaft node) as the control. Clients reach both
 * through a loopback TCP proxy, so the nemesis can cut every connection while the server runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, type ServeProcess, startProxy, startServe, type TcpProxy } from '@herald/test-support';
import { type ApacheKafka, startApacheKafka } from '@herald/test-support/apache-kafka';

/** A server under test. */
export interface Target {
  /** `herald` or `kafka`. */
  readonly name: TargetName;
  /** Where clients connect (the proxy). */
  readonly bootstrap: string;
  /** Partitions of the topic clients create by producing. */
  readonly partitions: number;
  /** kill -9 the server, start it again on the same data, and resolve once it serves. */
  crashAndRestart(): Promise<void>;
  /** SIGSTOP the server for `pauseMs`, then SIGCONT. */
  pause(pauseMs: number): Promise<void>;
  /** Cut every client connection (the server keeps running). */
  dropConnections(): void;
  /** The server's recent output, for failure messages. */
  output(): string;
  /** Stop the server and delete its data. */
  stop(): Promise<void>;
}

/** The targets {@link startTarget} knows. */
export type TargetName = 'herald' | 'kafka';

/** Partitions of the run's topic on either target. */
export const TARGET_PARTITIONS = 4;

async function pauseProcess(pid: number | undefined, pauseMs: number): Promise<void> {
  if (pid === undefined) return;
  process.kill(pid, 'SIGSTOP');
  try {
    await new Promise((resolve) => setTimeout(resolve, pauseMs));
  } finally {
    process.kill(pid, 'SIGCONT');
  }
}

/**
 * `herald serve` on 127.0.0.2:<port>, advertising 127.0.0.1, with the proxy on 127.0.0.1:<port>:
 * the server tells clients its own port, so the proxy takes that port on the advertised address.
 */
async function startHerald(): Promise<Target> {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-jepsen-'));
  const port = await freePort();
  const launch = () =>
    startServe({
      dir,
      port,
      partitions: TARGET_PARTITIONS,
      args: ['--host', '127.0.0.2', '--advertised-host', '127.0.0.1'],
      startTimeoutMs: 60_000,
    });
  let serve: ServeProcess = await launch();
  let proxy: TcpProxy;
  try {
    proxy = await startProxy(port, { targetHost: '127.0.0.2', port });
  } catch (error) {
    await serve.kill();
    throw error;
  }
  let earlier = '';
  return {
    name: 'herald',
    bootstrap: `127.0.0.1:${port}`,
    partitions: TARGET_PARTITIONS,
    async crashAndRestart() {
      await serve.kill();
      earlier = (earlier + serve.output()).slice(-20_000);
      serve = await launch();
    },
    pause: (pauseMs) => pauseProcess(serve.pid, pauseMs),
    dropConnections: () => proxy.dropConnections(),
    output: () => (earlier + serve.output()).slice(-20_000),
    async stop() {
      await proxy.close();
      await serve.stop(30_000).catch(() => serve.kill());
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function startKafka(): Promise<Target> {
  const kafka: ApacheKafka = await startApacheKafka({
    partitions: TARGET_PARTITIONS,
    // Kafka's default flush policy: acks=all on one node acknowledges what is in the page cache,
    // which a kill -9 of the JVM keeps (only a power loss would not); herald serve fsyncs.
    startTimeoutMs: 120_000,
  });
  return {
    name: 'kafka',
    bootstrap: kafka.bootstrap,
    partitions: TARGET_PARTITIONS,
    crashAndRestart: () => kafka.restart(),
    pause: (pauseMs) => pauseProcess(kafka.pid, pauseMs),
    dropConnections: () => kafka.dropConnections(),
    output: () => kafka.output().slice(-20_000),
    stop: () => kafka.stop(),
  };
}

/** Starts `name` and resolves once it serves. */
export function startTarget(name: TargetName): Promise<Target> {
  return name === 'herald' ? startHerald() : startKafka();
}
