/**
 * The servers the benchmarks run against, started in one place (not a suite: `bench/run.ts` skips
 * files starting with `_`):
 *
 * - `herald serve` from the working tree, as a child process ({@link startHeraldServe});
 * - Apache Kafka, one KRaft node from the jars `npm run setup` fetched (the transport's test
 *   helper, without its loopback proxy), warmed up before any row ({@link startBenchKafka});
 * - the peer servers `scripts/setup.sh` starts (RabbitMQ, NATS, Redis): {@link ensurePeer} probes
 *   a peer's port and runs the set-up step when it is down.
 */
import { type ChildProcess, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { startServe } from '@herald/test-support';
import { type ApacheKafka, KAFKA_DIR, startApacheKafka } from '@herald/test-support/apache-kafka';
import type { ClusterMetadata } from '@platformatic/kafka';
import { sleep } from './_common.ts';

export { KAFKA_DIR };

/** Waits until every partition of a new topic has a leader (Apache Kafka elects them shortly after CreateTopics). */
export async function waitForLeaders(
  admin: { metadata(options: { topics: string[]; forceUpdate: boolean }): Promise<ClusterMetadata> },
  topic: string,
  partitions: number,
): Promise<void> {
  const deadline = performance.now() + 10_000;
  for (;;) {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true }).catch(() => undefined);
    const found = metadata?.topics.get(topic)?.partitions ?? [];
    if (found.length === partitions && found.every((partition) => partition.leader >= 0)) return;
    if (performance.now() > deadline) throw new Error(`${topic}: partitions without a leader after 10 s`);
    await sleep(100);
  }
}

/**
 * Produces 100,000 small records in 1,000-record requests to a throw-away topic, so the JVM has
 * compiled its produce path before the rows run (a quick row lasts 400 ms; a cold broker spends
 * it interpreting). `herald serve` needs none: Node compiles hot code within milliseconds.
 */
export async function warmUpKafka(bootstrap: string): Promise<void> {
  const kafka = await import('@platformatic/kafka');
  const producer = new kafka.Producer({
    clientId: 'herald-peers-warm-up',
    bootstrapBrokers: [bootstrap],
    acks: -1,
  });
  const admin = new kafka.Admin({ clientId: 'herald-peers-warm-up', bootstrapBrokers: [bootstrap] });
  try {
    await admin.createTopics({ topics: ['herald-warm-up'], partitions: 1, replicas: 1 });
    await waitForLeaders(admin, 'herald-warm-up', 1);
    const value = Buffer.alloc(100, 7);
    for (let request = 0; request < 100; request++) {
      await producer.send({
        messages: Array.from({ length: 1_000 }, () => ({ topic: 'herald-warm-up', value, partition: 0 })),
      });
    }
    await admin.deleteTopics({ topics: ['herald-warm-up'] }).catch(() => {});
  } finally {
    await producer.close();
    await admin.close();
  }
}

/** The version of the fetched Apache Kafka jars (from `kafka_2.13-<version>.jar`). */
export function kafkaVersion(): string {
  const libs = path.join(KAFKA_DIR, 'libs');
  const jar = fs.existsSync(libs)
    ? fs.readdirSync(libs).find((name) => /^kafka_[\d.]+-.+\.jar$/.test(name))
    : undefined;
  return jar === undefined ? 'unknown' : jar.replace(/^kafka_[\d.]+-/, '').replace(/\.jar$/, '');
}

/**
 * Starts a broker for a benchmark (1 GiB heap, clients connect to it directly) and warms it up;
 * `settings` go to its `server.properties`.
 */
export async function startBenchKafka(options: {
  readonly partitions: number;
  readonly settings?: Readonly<Record<string, string | number>>;
}): Promise<ApacheKafka> {
  const broker = await startApacheKafka({ ...options, proxy: false, heapMbMax: 1024 });
  try {
    await warmUpKafka(broker.bootstrap);
    return broker;
  } catch (error) {
    await broker.stop();
    throw error;
  }
}

/** Longest wait for `herald serve` to print its port. */
const SERVE_LISTEN_TIMEOUT_MS = 20_000;
/** Longest wait for `herald serve` to exit after SIGTERM before it gets SIGKILL. */
const SERVE_STOP_TIMEOUT_MS = 5000;

/** A `herald serve` child process. */
export interface HeraldServe {
  readonly child: ChildProcess;
  readonly port: number;
  /** `127.0.0.1:port`. */
  readonly bootstrap: string;
  /** SIGTERM (SIGKILL after 5 s), and resolves once the process exited. */
  stop(): Promise<void>;
}

/**
 * Starts `herald serve --port 0 --data <directory> --partitions <partitions>` from the working
 * tree (test-support's `startServe`, so it is killed if this process exits without stopping it)
 * and resolves once it listens (rejects after 20 s, or when it exits first, with its output).
 * Its stderr also goes to this process's stderr unless `quiet` (the `peers` report keeps stderr
 * for its progress bar; the output then only appears in the error).
 */
export async function startHeraldServe(
  directory: string,
  partitions: number,
  options: { readonly quiet?: boolean } = {},
): Promise<HeraldServe> {
  const serve = await startServe({ dir: directory, partitions, startTimeoutMs: SERVE_LISTEN_TIMEOUT_MS });
  if (options.quiet !== true)
    serve.child.process.stderr?.on('data', (chunk: string) => process.stderr.write(chunk));
  const stop = async (): Promise<void> => {
    if (serve.child.process.exitCode !== null || serve.child.process.signalCode !== null) return;
    await serve.stop(SERVE_STOP_TIMEOUT_MS).catch(() => serve.kill());
  };
  return { child: serve.child.process, port: serve.port, bootstrap: serve.bootstrap, stop };
}

/** The peer servers `scripts/setup.sh` starts, by name (`aws` is moto, the AWS emulator). */
export type PeerServer = 'rabbitmq' | 'nats' | 'redis' | 'aws';

/** Each peer server's port, as the test set-up (`scripts/setup.sh`) starts it. */
export const PEER_PORTS: Readonly<Record<PeerServer, number>> = {
  rabbitmq: Number(process.env.HERALD_RABBITMQ_PORT ?? 5672),
  nats: Number(process.env.HERALD_NATS_PORT ?? 4222),
  redis: Number(process.env.HERALD_REDIS_PORT ?? 6379),
  aws: Number(process.env.HERALD_AWS_PORT ?? 4566),
};

/** Longest wait for a TCP connect when probing a port. */
const PROBE_TIMEOUT_MS = 1000;
/** Longest run of `scripts/setup.sh`: an install and four server starts take well under that. */
const SETUP_TIMEOUT_MS = 600_000;

/** Resolves whether something accepts TCP connections on `127.0.0.1:port` (within 1 s). */
export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Makes sure a peer server answers: when its port is down, runs the project's set-up step
 * (`scripts/setup.sh`: installs and starts RabbitMQ, PostgreSQL, NATS, Redis and moto on loopback), the
 * same one `npm test` runs; `onStart` hears about it first. Resolves to undefined when the peer
 * answers, else the reason it does not.
 */
export async function ensurePeer(
  name: PeerServer,
  onStart: (text: string) => void,
): Promise<string | undefined> {
  const port = PEER_PORTS[name];
  if (await portOpen(port)) return undefined;
  onStart(`${name} is down on :${port}; running scripts/setup.sh`);
  const setup = path.join(import.meta.dirname, '../scripts/setup.sh');
  try {
    execFileSync('bash', [setup], { stdio: ['ignore', 'ignore', 'pipe'], timeout: SETUP_TIMEOUT_MS });
  } catch (error) {
    return `${name} was down on :${port} and scripts/setup.sh failed: ${(error as Error).message}`;
  }
  return (await portOpen(port)) ? undefined : `${name} is still down on :${port} after scripts/setup.sh`;
}
