/**
 * Test helper: a real Apache Kafka broker (KRaft, broker and controller in one JVM) on free
 * loopback ports with its data in a temp directory, from the jars `npm run setup` fetched into
 * `HERALD_KAFKA_DIR` (default `~/.cache/herald/kafka`). A start takes about 5 s on this 2-core
 * machine (format ≈ 2 s, JVM start ≈ 3 s); the heap is capped at 512 MiB. The three-broker
 * cluster is in `./cluster.ts`; what both share is in `./jvm.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from '../servers.ts';
import { startProxy } from '../tcp-proxy.ts';
import {
  formatStorage,
  type Jvm,
  jvmOptions,
  spawnKafka,
  waitUntilServing,
  writeNodeProperties,
} from './jvm.ts';

export { KAFKA_DIR } from './jvm.ts';

/** Options of {@link startApacheKafka}. */
export interface ApacheKafkaOptions {
  /** Partitions of an automatically created topic (`num.partitions`, default 4, as `herald serve`). */
  readonly partitions?: number;
  /** How long the broker may take to serve Metadata (default 60 s). */
  readonly startTimeoutMs?: number;
  /**
   * Put the loopback proxy in front of the broker (default true), so `dropConnections` can cut
   * client connections. Benchmarks turn it off: every byte would cross a Node.js proxy.
   */
  readonly proxy?: boolean;
  /** Largest heap (default 512 MiB). */
  readonly heapMbMax?: number;
  /** Further `server.properties` entries, e.g. `{ 'log.flush.interval.messages': 1 }`. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

/** A running broker. */
export interface ApacheKafka {
  /** `127.0.0.1:<port>` of the PLAINTEXT listener. */
  readonly bootstrap: string;
  /** The JVM's pid (for CPU accounting). */
  readonly pid: number | undefined;
  /** The broker's output so far (warnings and errors), for failure messages. */
  output(): string;
  /** SIGTERM, wait for the JVM to exit, and delete the data directory. Safe to call twice. */
  stop(): Promise<void>;
  /** Cuts every client connection (the broker keeps running); clients must reconnect. */
  dropConnections(): void;
  /** kill -9 the JVM, then start it again on the same ports and data; resolves once it serves. */
  restart(): Promise<void>;
}

/** Starts a single-node KRaft broker and resolves once it answers Metadata. */
export async function startApacheKafka(options: ApacheKafkaOptions = {}): Promise<ApacheKafka> {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-apache-kafka-'));
  const [brokerPort, controllerPort] = [await freePort(), await freePort()];
  // Clients reach the broker through a loopback proxy (the advertised listener), so a test can cut
  // every client connection at once without restarting the JVM (a restart after kill -9 takes
  // 10-20 s here while Kafka recovers its logs).
  const proxy = options.proxy === false ? undefined : await startProxy(brokerPort);
  const advertisedPort = proxy?.port ?? brokerPort;
  const properties = path.join(dir, 'server.properties');
  writeNodeProperties(properties, {
    nodeId: 1,
    brokerPort,
    controllerPort,
    voters: `1@127.0.0.1:${controllerPort}`,
    advertisedPort,
    dataDir: path.join(dir, 'data'),
    settings: {
      'num.partitions': options.partitions ?? 4,
      'offsets.topic.replication.factor': 1,
      // One __consumer_offsets partition instead of 50: its creation is what a first group waits for.
      'offsets.topic.num.partitions': 1,
      'transaction.state.log.replication.factor': 1,
      'transaction.state.log.min.isr': 1,
      ...options.settings,
    },
  });
  const java = jvmOptions(options.heapMbMax ?? 512);
  const bootstrap = `127.0.0.1:${advertisedPort}`;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  let output = '';
  let jvm: Jvm | undefined;
  const launch = async () => {
    const current = spawnKafka(properties, java, (text) => {
      output += text;
    });
    jvm = current;
    await waitUntilServing(
      bootstrap,
      startTimeoutMs,
      () => !current.running(),
      () => output,
    );
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await jvm?.terminate();
    await proxy?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await formatStorage(properties, java);
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    bootstrap,
    get pid() {
      return jvm?.child.pid;
    },
    output: () => output,
    stop,
    dropConnections: () => proxy?.dropConnections(),
    async restart() {
      await jvm?.kill();
      await launch();
    },
  };
}
