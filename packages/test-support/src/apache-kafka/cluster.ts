/**
 * Test helper: a three-node Apache Kafka cluster. Each node is a JVM of its own running a combined
 * KRaft broker and controller (three controller voters), on free loopback ports with its data in
 * a temp directory, from the jars `npm run setup` fetched (see `./jvm.ts`). Topics are
 * replicated three times with `min.insync.replicas=2`, so an acks=all write survives the loss of
 * any one node and the cluster keeps accepting writes while one node is down.
 *
 * Nodes advertise their own ports (no proxy): a killed node refuses connections, as a dead host
 * does. `kill(nodeId)` is SIGKILL; `start(nodeId)` starts the node again on the same ports and data.
 * A start of all three takes about 12-15 s on this 2-core machine (README, "Tests").
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Admin } from '@platformatic/kafka';
import { freePort } from '../servers.ts';
import {
  formatStorage,
  type Jvm,
  jvmOptions,
  spawnKafka,
  waitUntilServing,
  writeNodeProperties,
} from './jvm.ts';

/** Options of {@link startKafkaCluster}. */
export interface KafkaClusterOptions {
  /** Partitions of an automatically created topic (`num.partitions`, default 4). */
  readonly partitions?: number;
  /** Largest heap of each node (default 768 MiB: 384 MiB ran out under CI load). */
  readonly heapMbMax?: number;
  /** How long the cluster may take to serve Metadata with every node registered (default 90 s). */
  readonly startTimeoutMs?: number;
  /** Further `server.properties` entries for every node. */
  readonly settings?: Readonly<Record<string, string | number>>;
}

/** A running three-node cluster. */
export interface KafkaCluster {
  /** The node ids, 1, 2 and 3. */
  readonly nodeIds: readonly number[];
  /** `127.0.0.1:<port>` of every node's PLAINTEXT listener, in node id order. */
  readonly brokers: readonly string[];
  /** How long {@link startKafkaCluster} took, in milliseconds (format, JVM starts, registration; every start tried). */
  readonly startMs: number;
  /** The PLAINTEXT address of `nodeId`. */
  addressOf(nodeId: number): string;
  /** True while `nodeId`'s JVM runs. */
  isRunning(nodeId: number): boolean;
  /** The node's output so far (or every node's), for failure messages. */
  output(nodeId?: number): string;
  /** SIGKILL `nodeId`'s JVM and wait until it is gone. */
  kill(nodeId: number): Promise<void>;
  /** Starts `nodeId` again on its ports and data; resolves once it serves and sees every node. */
  start(nodeId: number): Promise<void>;
  /**
   * The leader of `topic`/`partition` as the running nodes' metadata says, waiting (up to
   * `timeoutMs`, default 30 s) until there is one that `accept` allows (default: any).
   */
  leaderOf(
    topic: string,
    partition: number,
    options?: { accept?: (leader: number) => boolean; timeoutMs?: number },
  ): Promise<number>;
  /** The active controller and the coordinator of `group`, as the running nodes say. */
  roles(group: string): Promise<{ controller: number; coordinator: number }>;
  /** SIGTERM every node, wait for the JVMs to exit, delete the data. Safe to call twice. */
  stop(): Promise<void>;
}

interface Node {
  readonly nodeId: number;
  readonly address: string;
  readonly properties: string;
  jvm: Jvm | undefined;
  output: string;
}

const NODE_IDS = [1, 2, 3] as const;

/**
 * Starts of the cluster tried before {@link startKafkaCluster} gives up. A second start, on new
 * ports and new data, rides out what a test cannot prevent on a shared machine: another process
 * binding a chosen port in the seconds before the JVM does (the nodes then never form a quorum).
 * The first failure is printed in full, so it is never hidden.
 */
const CLUSTER_STARTS_MAX = 2;

/**
 * Starts three nodes and resolves once every one serves Metadata listing all three brokers. Tries
 * {@link CLUSTER_STARTS_MAX} times, each within `startTimeoutMs`, printing each failed start's
 * error and node output to stderr.
 */
export async function startKafkaCluster(options: KafkaClusterOptions = {}): Promise<KafkaCluster> {
  const started = performance.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKafkaClusterOnce(options, started);
    } catch (error) {
      if (attempt >= CLUSTER_STARTS_MAX) throw error;
      process.stderr.write(
        `# start ${attempt} of ${CLUSTER_STARTS_MAX} of the Kafka cluster failed; starting again on new ports: ` +
          `${(error as Error).message}\n`,
      );
    }
  }
}

async function startKafkaClusterOnce(options: KafkaClusterOptions, started: number): Promise<KafkaCluster> {
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-kafka-cluster-'));
  const ports: { broker: number; controller: number }[] = [];
  for (const _ of NODE_IDS) ports.push({ broker: await freePort(), controller: await freePort() });
  const voters = NODE_IDS.map((id, index) => `${id}@127.0.0.1:${ports[index]!.controller}`).join(',');
  const nodes: Node[] = NODE_IDS.map((nodeId, index) => {
    const nodeDir = path.join(dir, `node-${nodeId}`);
    mkdirSync(nodeDir);
    const properties = path.join(nodeDir, 'server.properties');
    writeNodeProperties(properties, {
      nodeId,
      brokerPort: ports[index]!.broker,
      controllerPort: ports[index]!.controller,
      voters,
      advertisedPort: ports[index]!.broker,
      dataDir: path.join(nodeDir, 'data'),
      settings: {
        'num.partitions': options.partitions ?? 4,
        'default.replication.factor': 3,
        'min.insync.replicas': 2,
        'offsets.topic.replication.factor': 3,
        // Three __consumer_offsets partitions instead of 50: created when the first group appears.
        'offsets.topic.num.partitions': 3,
        'transaction.state.log.replication.factor': 3,
        'transaction.state.log.min.isr': 2,
        ...options.settings,
      },
    });
    return { nodeId, address: `127.0.0.1:${ports[index]!.broker}`, properties, jvm: undefined, output: '' };
  });
  const java = jvmOptions(options.heapMbMax ?? 768);
  const startTimeoutMs = options.startTimeoutMs ?? 90_000;
  const nodeOf = (nodeId: number): Node => {
    const node = nodes.find((candidate) => candidate.nodeId === nodeId);
    if (node === undefined) throw new Error(`no node ${nodeId} (nodes are 1, 2, 3)`);
    return node;
  };
  const allOutput = () =>
    nodes.map((node) => `--- node ${node.nodeId}\n${node.output.slice(-3000)}`).join('\n');
  const launch = async (node: Node) => {
    const jvm = spawnKafka(node.properties, java, (text) => {
      node.output += text;
    });
    node.jvm = jvm;
    await waitUntilServing(
      node.address,
      startTimeoutMs,
      () => !jvm.running(),
      () => node.output,
      NODE_IDS.length,
    );
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(nodes.map((node) => node.jvm?.terminate()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.all(nodes.map((node) => formatStorage(node.properties, java)));
    await Promise.all(nodes.map((node) => launch(node)));
  } catch (error) {
    await stop();
    throw new Error(`the Kafka cluster did not start: ${(error as Error).message}\n${allOutput()}`, {
      cause: error,
    });
  }
  const running = (nodeId: number) => nodeOf(nodeId).jvm?.running() ?? false;
  return {
    nodeIds: NODE_IDS,
    brokers: nodes.map((node) => node.address),
    startMs: Math.round(performance.now() - started),
    addressOf: (nodeId) => nodeOf(nodeId).address,
    isRunning: running,
    output: (nodeId) => (nodeId === undefined ? allOutput() : nodeOf(nodeId).output),
    async kill(nodeId) {
      await nodeOf(nodeId).jvm?.kill();
    },
    async start(nodeId) {
      const node = nodeOf(nodeId);
      if (node.jvm?.running()) throw new Error(`node ${nodeId} is running`);
      await launch(node);
    },
    async leaderOf(topic, partition, { accept = () => true, timeoutMs = 30_000 } = {}) {
      const live = nodes.filter((node) => node.jvm?.running()).map((node) => node.address);
      const admin = new Admin({ clientId: 'herald-test-leader', bootstrapBrokers: live, retries: 2 });
      const deadline = performance.now() + timeoutMs;
      let last = 'no answer';
      try {
        while (performance.now() < deadline) {
          try {
            const metadata = await admin.metadata({ topics: [topic], forceUpdate: true });
            const leader = metadata.topics.get(topic)?.partitions[partition]?.leader ?? -1;
            if (leader >= 0 && accept(leader)) return leader;
            last = `leader ${leader}`;
          } catch (error) {
            last = String(error);
          }
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      } finally {
        await admin.close().catch(() => {});
      }
      throw new Error(`no acceptable leader for ${topic}/${partition} within ${timeoutMs} ms (${last})`);
    },
    async roles(group) {
      const live = nodes.filter((node) => node.jvm?.running()).map((node) => node.address);
      const admin = new Admin({ clientId: 'herald-test-roles', bootstrapBrokers: live, retries: 5 });
      try {
        const metadata = await admin.metadata({ topics: [], forceUpdate: true });
        const [coordinator] = await admin.findCoordinator({ keyType: 0, keys: [group] });
        return { controller: metadata.controllerId, coordinator: coordinator?.nodeId ?? -1 };
      } finally {
        await admin.close().catch(() => {});
      }
    },
    stop,
  };
}
