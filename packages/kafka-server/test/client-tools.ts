/**
 * Clients nobody here wrote, for the tests that run them against `herald serve`: Apache Kafka's
 * Java client and tools (from `$HERALD_KAFKA_DIR`), franz-go (built with `go build`) and the
 * PyPI clients (a virtualenv under `~/.cache/herald/python`). `npm run setup` fetches what the
 * tests need; when something is missing a test fails saying so, it never skips.
 *
 * Builds are cached by the content hash of their sources (`~/.cache/herald/java/<hash>`,
 * `~/.cache/herald/go/<hash>`), built into a temporary directory and renamed into place, so two
 * test files building at once never see a half-written build.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import net from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeRecordBatchHeader, type RecordBatchHeader, recordBatchSize } from '@herald/log';
import { runTool, type ToolResult, temporaryDirectory } from '@herald/test-support';

const CACHE_DIR = path.join(homedir(), '.cache', 'herald');
const SETUP_HINT = 'run `npm run setup` (scripts/setup.sh) to fetch it';

/** Fails (an `AssertionError`) unless `command` runs, naming what to install. */
export function requireCommand(command: string, args: readonly string[], install: string): void {
  if (commandsFound.has(command)) return;
  const result = spawnSync(command, args, { stdio: 'ignore', timeout: 30_000 });
  assert.ok(result.error === undefined && result.status === 0, `${command} is missing or broken: ${install}`);
  commandsFound.add(command);
}

const commandsFound = new Set<string>();

/** Where `npm run setup` put Apache Kafka's jars (`$HERALD_KAFKA_DIR`, default ~/.cache/herald/kafka). */
export function kafkaDirectory(): string {
  requireCommand('java', ['-version'], 'install Java 17 (openjdk-17-jdk-headless), then run `npm run setup`');
  const directory = process.env.HERALD_KAFKA_DIR ?? path.join(CACHE_DIR, 'kafka');
  assert.ok(
    existsSync(path.join(directory, 'libs')) && readdirSync(path.join(directory, 'libs')).length > 0,
    `Apache Kafka's jars are missing from ${directory}/libs: ${SETUP_HINT}`,
  );
  return directory;
}

function hashOf(files: readonly string[]): string {
  const hash = createHash('sha256');
  for (const file of files) hash.update(path.basename(file)).update('\0').update(readFileSync(file));
  return hash.digest('hex').slice(0, 16);
}

/** Runs `build(into)` unless `<cache>/<hash>` exists; renames the result into place. */
async function cachedBuild(
  kind: string,
  sources: readonly string[],
  build: (into: string) => Promise<void>,
): Promise<string> {
  const target = path.join(CACHE_DIR, kind, hashOf(sources));
  if (existsSync(target)) return target;
  mkdirSync(path.dirname(target), { recursive: true });
  const partial = mkdtempSync(`${target}.partial-`);
  try {
    await build(partial);
    try {
      renameSync(partial, target);
    } catch (error) {
      // Another test file finished the same build first: use theirs.
      if (!existsSync(target)) throw error;
    }
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
  return target;
}

function check(result: ToolResult, what: string): void {
  assert.equal(result.code, 0, `${what} failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
}

const JAVA_SOURCE = fileURLToPath(new URL('./java/HeraldClientCheck.java', import.meta.url));

/** Compiles test/java/HeraldClientCheck.java once (cached); resolves the class directory. */
export function compileJavaCheck(): Promise<string> {
  requireCommand(
    'javac',
    ['-version'],
    'install a Java 17 JDK (openjdk-17-jdk-headless), then run `npm run setup`',
  );
  const libs = path.join(kafkaDirectory(), 'libs', '*');
  return cachedBuild('java', [JAVA_SOURCE], async (into) => {
    const result = await runTool('javac', ['-d', into, '-cp', libs, JAVA_SOURCE], { timeoutMs: 120_000 });
    check(result, 'javac (Java 17 is needed: install openjdk-17-jdk-headless)');
  });
}

/** Runs a Java main class with Kafka's jars (and `extraClassPath`) and Kafka's test log4j2 settings. */
export function runJava(
  mainClass: string,
  args: readonly string[],
  options: { extraClassPath?: string; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolResult> {
  const kafka = kafkaDirectory();
  const classPath = [options.extraClassPath, path.join(kafka, 'libs', '*')]
    .filter(Boolean)
    .join(path.delimiter);
  return runTool(
    'java',
    [
      `-Dlog4j2.configurationFile=${path.join(kafka, 'log4j2.properties')}`,
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-cp',
      classPath,
      mainClass,
      ...args,
    ],
    {
      ...(options.input === undefined ? {} : { input: options.input }),
      ...(options.env === undefined ? {} : { env: { ...process.env, ...options.env } }),
      timeoutMs: options.timeoutMs ?? 90_000,
    },
  );
}

/** Runs a Java program that must exit 0; resolves its stdout's JSON lines. */
export async function javaJsonLines(
  mainClass: string,
  args: readonly string[],
  options: { extraClassPath?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<Record<string, unknown>[]> {
  const result = await runJava(mainClass, args, options);
  check(result, `${mainClass} ${args.join(' ')}`);
  return jsonLines(result.stdout);
}

/** The JSON objects among `text`'s lines (other lines, such as tool banners, are skipped). */
export function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const GO_DIR = fileURLToPath(new URL('./go/', import.meta.url));

/** Builds test/go (franz-go) once (cached); resolves the binary. */
export async function buildFranzGo(): Promise<string> {
  requireCommand('go', ['version'], 'install Go 1.26 or later (https://go.dev/dl/; test/go/go.mod names it)');
  const sources = ['main.go', 'go.mod', 'go.sum'].map((name) => path.join(GO_DIR, name));
  const directory = await cachedBuild('go', sources, async (into) => {
    const result = await runTool('go', ['build', '-o', path.join(into, 'franz-go-check'), '.'], {
      cwd: GO_DIR,
      env: { ...process.env, GOFLAGS: '-mod=mod' },
      timeoutMs: 300_000,
    });
    check(result, 'go build of test/go (Go and the Go module proxy are needed)');
  });
  return path.join(directory, 'franz-go-check');
}

/** The virtualenv Python with confluent-kafka and aiokafka from PyPI, installed by `npm run setup`. */
export function pypiPython(): string {
  const python = path.join(process.env.HERALD_PYTHON_DIR ?? path.join(CACHE_DIR, 'python'), 'bin', 'python');
  assert.ok(existsSync(python), `no Python with confluent-kafka and aiokafka at ${python}: ${SETUP_HINT}`);
  return python;
}

/** Headers of every batch stored for `topic` in a `herald serve` data directory (all partitions). */
export function storedBatchHeaders(dataDirectory: string, topic: string): RecordBatchHeader[] {
  const headers: RecordBatchHeader[] = [];
  for (const entry of readdirSync(dataDirectory)) {
    if (!entry.startsWith(`${topic}-`) || !/^\d+$/.test(entry.slice(topic.length + 1))) continue;
    for (const file of readdirSync(path.join(dataDirectory, entry)).filter((name) => name.endsWith('.log'))) {
      const bytes = readFileSync(path.join(dataDirectory, entry, file));
      for (let at = 0; at + 61 <= bytes.length; ) {
        const size = recordBatchSize(bytes, at);
        if (size <= 0 || at + size > bytes.length) break;
        headers.push(decodeRecordBatchHeader(bytes, at));
        at += size;
      }
    }
  }
  return headers;
}

/** A loopback proxy in front of a Kafka server that loses some Produce responses. */
export interface ResponseDroppingProxy {
  readonly port: number;
  /** Produce responses dropped so far (each by closing the client's connection). */
  readonly dropped: number;
  close(): Promise<void>;
}

/**
 * Forwards every connection to `127.0.0.1:<targetPort>`, but for the first `dropCount` Produce
 * responses closes the client's connection instead of forwarding the response: the server has
 * stored the batch, the client never hears so and resends it (a lost acknowledgement).
 */
export async function startResponseDroppingProxy(
  targetPort: number | (() => number),
  dropCount: number,
): Promise<ResponseDroppingProxy> {
  let dropped = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(typeof targetPort === 'number' ? targetPort : targetPort(), '127.0.0.1');
    sockets.add(client).add(upstream);
    const apiKeys = new Map<number, number>();
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      for (const frame of framesOf(client, chunk)) apiKeys.set(frame.readInt32BE(8), frame.readInt16BE(4));
      upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      for (const frame of framesOf(upstream, chunk)) {
        const apiKey = apiKeys.get(frame.readInt32BE(4));
        if (apiKey === 0 && dropped < dropCount) {
          dropped += 1;
          close();
          return;
        }
        if (!client.destroyed) client.write(frame);
      }
    });
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', () => {
        sockets.delete(socket);
        close();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    get dropped() {
      return dropped;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const pending = new WeakMap<net.Socket, Buffer>();

/** Whole size-prefixed frames (prefix included) completed by `chunk` on `socket`. */
function framesOf(socket: net.Socket, chunk: Buffer): Buffer[] {
  let buffer = Buffer.concat([pending.get(socket) ?? Buffer.alloc(0), chunk]);
  const frames: Buffer[] = [];
  while (buffer.length >= 4 && buffer.length >= 4 + buffer.readInt32BE(0)) {
    const size = buffer.readInt32BE(0);
    frames.push(buffer.subarray(0, 4 + size));
    buffer = buffer.subarray(4 + size);
  }
  pending.set(socket, buffer);
  return frames;
}

/**
 * Runs `produce(bootstrap)` against an in-process server (one partition per topic) reached through
 * a proxy that loses the first `dropCount` Produce responses; resolves what it returned, how many
 * responses were lost and how many records `topic` holds.
 */
export async function withLostProduceResponses<T>(
  topic: string,
  dropCount: number,
  produce: (bootstrap: string) => Promise<T>,
): Promise<{ result: T; dropped: number; stored: bigint }> {
  const { startKafkaServer } = await import('../src/index.ts');
  let server: Awaited<ReturnType<typeof startKafkaServer>> | undefined;
  // The proxy is the address clients are told about, so every connection goes through it.
  const proxy = await startResponseDroppingProxy(() => server!.port, dropCount);
  try {
    server = await startKafkaServer({
      dir: temporaryDirectory('herald-lost-acks-'),
      port: 0,
      advertisedPort: proxy.port,
      partitions: 1,
    });
    const result = await produce(`127.0.0.1:${proxy.port}`);
    const { highWatermark } = await server.broker.partitionOffsets(topic, 0);
    return { result, dropped: proxy.dropped, stored: highWatermark };
  } finally {
    await proxy.close();
    await server?.close();
  }
}
