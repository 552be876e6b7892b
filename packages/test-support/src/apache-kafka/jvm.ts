/**
 * What the Apache Kafka test helpers share (`broker.ts`, one broker; `cluster.ts`,
 * three): where the jars are, free loopback ports, a KRaft node's `server.properties`, formatting
 * its storage, the JVM as a child process that can be killed -9, and waiting until a node serves
 * Metadata.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { killWithThisProcess } from '../child.ts';
import { withDeadline } from '../deadline.ts';

const run = promisify(execFile);

/** Where `npm run setup` put Apache Kafka's jars and log configuration. */
export const KAFKA_DIR = process.env.HERALD_KAFKA_DIR ?? path.join(homedir(), '.cache', 'herald', 'kafka');

/** A KRaft cluster id (16 bytes, base64url: "HeraldTestCluste"); a fixed one keeps logs comparable. */
export const CLUSTER_ID = 'SGVyYWxkVGVzdENsdXN0ZQ';

/** The classpath of the fetched jars; throws with the fix when `npm run setup` has not run. */
export function classpath(): string {
  const libs = path.join(KAFKA_DIR, 'libs');
  if (!existsSync(libs)) {
    throw new Error(
      `Apache Kafka is not in ${libs}: run \`npm run setup\` (it fetches Kafka from Maven Central)`,
    );
  }
  return `${libs}/*`;
}

/** JVM options: heap bounds and Kafka's quiet log configuration. */
export function jvmOptions(heapMbMax: number): string[] {
  return [
    `-Xms${Math.min(256, heapMbMax)}m`,
    `-Xmx${heapMbMax}m`,
    `-Dlog4j2.configurationFile=${path.join(KAFKA_DIR, 'log4j2.properties')}`,
  ];
}

/** One combined broker+controller KRaft node's settings. */
export interface NodeConfig {
  readonly nodeId: number;
  readonly brokerPort: number;
  readonly controllerPort: number;
  /** `id@127.0.0.1:port` of every controller voter. */
  readonly voters: string;
  /** The PLAINTEXT address clients are told to use (a proxy's port, or `brokerPort`). */
  readonly advertisedPort: number;
  readonly dataDir: string;
  /** Further `server.properties` entries (they win over the defaults here). */
  readonly settings: Readonly<Record<string, string | number>>;
}

/** Writes `server.properties` for `config` at `file`. */
export function writeNodeProperties(file: string, config: NodeConfig): void {
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': config.nodeId,
    'controller.quorum.voters': config.voters,
    listeners: `PLAINTEXT://127.0.0.1:${config.brokerPort},CONTROLLER://127.0.0.1:${config.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${config.advertisedPort}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': config.dataDir,
    'group.initial.rebalance.delay.ms': 0,
    ...config.settings,
  };
  writeFileSync(
    file,
    `${Object.entries(settings)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n')}\n`,
  );
}

/** Formats a node's storage with {@link CLUSTER_ID} (a JVM of its own, ≈ 2 s). */
export async function formatStorage(properties: string, java: readonly string[]): Promise<void> {
  const format = ['kafka.tools.StorageTool', 'format', '-t', CLUSTER_ID, '-c', properties];
  await run('java', [...java, '-cp', classpath(), ...format], { timeout: 60_000 });
}

/** A Kafka JVM running as a child process. */
export interface Jvm {
  readonly child: ChildProcess;
  /** True until the process exited. */
  running(): boolean;
  /** SIGTERM, then SIGKILL if it has not exited within 30 s. */
  terminate(): Promise<void>;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
}

/** Starts `kafka.Kafka <properties>`; its stdout and stderr go to `onOutput`. */
export function spawnKafka(
  properties: string,
  java: readonly string[],
  onOutput: (text: string) => void,
): Jvm {
  const child = spawn('java', [...java, '-cp', classpath(), 'kafka.Kafka', properties], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // A JVM must not outlive the process that started it (a benchmark or test ended by an error).
  killWithThisProcess(child);
  child.stdout!.on('data', (chunk: Buffer) => onOutput(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => onOutput(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = async () => {
    if (running()) child.kill('SIGKILL');
    await withDeadline(exited, 10_000, 'Apache Kafka to die');
  };
  return {
    child,
    running,
    kill,
    async terminate() {
      if (!running()) return;
      child.kill('SIGTERM');
      try {
        await withDeadline(exited, 30_000, 'Apache Kafka to stop');
      } catch {
        await kill();
      }
    },
  };
}

/**
 * Polls Metadata at `bootstrap` until the answer lists at least `brokersMin` brokers, the JVM
 * exits, or the deadline passes.
 */
export async function waitUntilServing(
  bootstrap: string,
  timeoutMs: number,
  exited: () => boolean,
  output: () => string,
  brokersMin = 1,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    if (exited()) throw new Error(`Apache Kafka exited before serving:\n${output()}`);
    const admin = new Admin({ clientId: 'herald-test-probe', bootstrapBrokers: [bootstrap], retries: 0 });
    try {
      const metadata = await admin.metadata({ topics: [], forceUpdate: true });
      if (metadata.brokers.size >= brokersMin) return;
      last = `${metadata.brokers.size} of ${brokersMin} brokers registered`;
    } catch (error) {
      last = error;
    } finally {
      await admin.close().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `Apache Kafka at ${bootstrap} did not serve Metadata within ${timeoutMs} ms (${String(last)}):\n${output().slice(-4000)}`,
  );
}
