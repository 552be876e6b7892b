/**
 * Test helper: a real Apache Kafka broker (KRaft, broker and controller in one JVM) on free
 * loopback ports with its data in a temp directory, from the jars `npm run setup` fetched into
 * `HERALD_KAFKA_DIR` (default `~/.cache/herald/kafka`). A start takes about 5 s on this 2-core
 * machine (format ≈ 2 s, JVM start ≈ 3 s); the heap is capped at 512 MiB.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { withDeadline } from '@herald/kafka-server/testing';
import { Admin } from '@platformatic/kafka';

const run = promisify(execFile);

/** Where `npm run setup` put Apache Kafka's jars and log configuration. */
export const KAFKA_DIR = process.env.HERALD_KAFKA_DIR ?? path.join(homedir(), '.cache', 'herald', 'kafka');

/** Options of {@link startApacheKafka}. */
export interface ApacheKafkaOptions {
  /** Partitions of an automatically created topic (`num.partitions`, default 4, as `herald serve`). */
  readonly partitions?: number;
  /** How long the broker may take to serve Metadata (default 60 s). */
  readonly startTimeoutMs?: number;
}

/** A running broker. */
export interface ApacheKafka {
  /** `127.0.0.1:<port>` of the PLAINTEXT listener. */
  readonly bootstrap: string;
  /** The broker's output so far (warnings and errors), for failure messages. */
  output(): string;
  /** SIGTERM, wait for the JVM to exit, and delete the data directory. Safe to call twice. */
  stop(): Promise<void>;
  /** Cuts every client connection (the broker keeps running); clients must reconnect. */
  dropConnections(): void;
  /** kill -9 the JVM, then start it again on the same ports and data; resolves once it serves. */
  restart(): Promise<void>;
}

/** A KRaft cluster id (16 bytes, base64url: "HeraldTestCluste"); a fixed one keeps logs comparable. */
const CLUSTER_ID = 'SGVyYWxkVGVzdENsdXN0ZQ';

/** A TCP proxy from a free loopback port to `targetPort`, whose connections can be cut at once. */
async function startProxy(targetPort: number): Promise<{
  port: number;
  dropConnections(): void;
  close(): Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    track(client);
    track(upstream);
    client.pipe(upstream).pipe(client);
    client.once('error', () => upstream.destroy());
    upstream.once('error', () => client.destroy());
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const dropConnections = () => {
    for (const socket of sockets) socket.destroy();
  };
  return {
    port: (server.address() as net.AddressInfo).port,
    dropConnections,
    close: () => {
      dropConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port the OS says is free now. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function classpath(): string {
  const libs = path.join(KAFKA_DIR, 'libs');
  if (!existsSync(libs)) {
    throw new Error(
      `Apache Kafka is not in ${libs}: run \`npm run setup\` (it fetches Kafka from Maven Central)`,
    );
  }
  return `${libs}/*`;
}

/** Starts a single-node KRaft broker and resolves once it answers Metadata. */
export async function startApacheKafka(options: ApacheKafkaOptions = {}): Promise<ApacheKafka> {
  const cp = classpath();
  const dir = mkdtempSync(path.join(tmpdir(), 'herald-apache-kafka-'));
  const [brokerPort, controllerPort] = [await freePort(), await freePort()];
  // Clients reach the broker through a loopback proxy (the advertised listener), so a test can cut
  // every client connection at once without restarting the JVM (a restart after kill -9 takes
  // 10-20 s here while Kafka recovers its logs).
  const proxy = await startProxy(brokerPort);
  const properties = path.join(dir, 'server.properties');
  writeFileSync(
    properties,
    [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${brokerPort},CONTROLLER://127.0.0.1:${controllerPort}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${proxy.port}`,
      'controller.listener.names=CONTROLLER',
      'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
      'inter.broker.listener.name=PLAINTEXT',
      `log.dirs=${path.join(dir, 'data')}`,
      `num.partitions=${options.partitions ?? 4}`,
      'offsets.topic.replication.factor=1',
      // One __consumer_offsets partition instead of 50: its creation is what a first group waits for.
      'offsets.topic.num.partitions=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'group.initial.rebalance.delay.ms=0',
      '',
    ].join('\n'),
  );
  const java = [
    '-Xms256m',
    '-Xmx512m',
    `-Dlog4j2.configurationFile=${path.join(KAFKA_DIR, 'log4j2.properties')}`,
  ];
  const bootstrap = `127.0.0.1:${proxy.port}`;
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  let output = '';
  let jvm: Jvm | undefined;
  const launch = async () => {
    jvm = spawnJvm([...java, '-cp', cp, 'kafka.Kafka', properties], (text) => {
      output += text;
    });
    const current = jvm;
    await waitUntilServing(
      bootstrap,
      startTimeoutMs,
      () => current.child.exitCode !== null,
      () => output,
    );
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await jvm?.terminate();
    await proxy.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const format = ['kafka.tools.StorageTool', 'format', '-t', CLUSTER_ID, '-c', properties];
    await run('java', [...java, '-cp', cp, ...format], { timeout: 60_000 });
    await launch();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    bootstrap,
    output: () => output,
    stop,
    dropConnections: () => proxy.dropConnections(),
    async restart() {
      await jvm?.kill();
      await launch();
    },
  };
}

interface Jvm {
  readonly child: ChildProcess;
  /** SIGTERM, then SIGKILL if it has not exited within 30 s. */
  terminate(): Promise<void>;
  /** SIGKILL, and wait until the process is gone. */
  kill(): Promise<void>;
}

function spawnJvm(args: readonly string[], onOutput: (text: string) => void): Jvm {
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Polls Metadata until the broker answers, it exits, or the deadline passes. */
async function waitUntilServing(
  bootstrap: string,
  timeoutMs: number,
  exited: () => boolean,
  output: () => string,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown;
  while (performance.now() < deadline) {
    if (exited()) throw new Error(`Apache Kafka exited before serving:\n${output()}`);
    const admin = new Admin({ clientId: 'herald-test-probe', bootstrapBrokers: [bootstrap], retries: 0 });
    try {
      await admin.listTopics();
      return;
    } catch (error) {
      last = error;
    } finally {
      await admin.close().catch(() => {});
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `Apache Kafka did not serve Metadata within ${timeoutMs} ms (${String(last)}):\n${output()}`,
  );
}
